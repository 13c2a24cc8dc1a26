"""Convolution and max-pooling kernels (the book's chapter 7), in place into caller-provided buffers.

Layouts are the book's: images (N, C, H, W); filters (FN, C, FH, FW); ``col``
(N*OH*OW, C*FH*FW) with rows ordered (n, oy, ox) and columns (c, ky, kx), as
``common/util.py::im2col`` builds it; pooling's ``arg_max`` (N*OH*OW*C,) in the
book's (n, oy, ox, c) order, each the window offset ky*PW + kx of the first
maximum (``np.argmax``'s tie rule).

The convolution layers use im2col + BLAS GEMM (``np.dot(a, b, out)``, SciPy's
OpenBLAS) one sample at a time, columns transposed against the book's
(C*FH*FW, OH*OW), so each GEMM writes NCHW output directly and the columns
are filled by contiguous row copies; :func:`im2col`/:func:`col2im` keep the
book's layout for ``fastdl.util``. Direct loops were
measured too (batch 100, one thread, loaded 2-core machine): for SimpleConvNet's
1->30 5x5 layer they took 16 ms (f64) / 10 ms (f32) forward against 9 / 6.7 ms
for im2col + GEMM, and 4-14x longer on DeepConvNet's 16-64 channel layers.

Bias and an optional ReLU are fused into each forward; backward takes the
gradient of the (ReLU'd) output and skips ``dx`` when ``need_dx`` is False (a
network's first layer). Every callee lives in this file (Numba's cache does
not see edits to callees in other files).
"""
import numpy as np

from . import kernel


@kernel()
def im2col(x, fh, fw, stride, pad, col):
    """Fill ``col`` (N*OH*OW, C*FH*FW) from ``x`` (N, C, H, W), zero outside the image."""
    N, C, H, W = x.shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    zero = x.dtype.type(0)
    for n in range(N):
        for oy in range(oh):
            y0 = oy * stride - pad
            for ox in range(ow):
                r = (n * oh + oy) * ow + ox
                x0 = ox * stride - pad
                j = 0
                if y0 >= 0 and y0 + fh <= H and x0 >= 0 and x0 + fw <= W:
                    # Interior windows (most of them) copy without a bounds test per element.
                    for c in range(C):
                        for ky in range(fh):
                            for kx in range(fw):
                                col[r, j] = x[n, c, y0 + ky, x0 + kx]
                                j += 1
                    continue
                for c in range(C):
                    for ky in range(fh):
                        iy = y0 + ky
                        for kx in range(fw):
                            ix = x0 + kx
                            if 0 <= iy < H and 0 <= ix < W:
                                col[r, j] = x[n, c, iy, ix]
                            else:
                                col[r, j] = zero
                            j += 1


@kernel()
def col2im(col, fh, fw, stride, pad, img):
    """``img`` (N, C, H, W) = the sum of ``col``'s entries over every window covering each pixel.

    Each pixel's contributions are added in the book's order (ky, then kx,
    then oy, ox), starting from zero, so the result equals the book's bit for bit.
    """
    N, C, H, W = img.shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    img[:] = 0
    for n in range(N):
        for c in range(C):
            for ky in range(fh):
                for kx in range(fw):
                    j = (c * fh + ky) * fw + kx
                    for oy in range(oh):
                        iy = oy * stride + ky - pad
                        if iy < 0 or iy >= H:
                            continue
                        r0 = (n * oh + oy) * ow
                        for ox in range(ow):
                            ix = ox * stride + kx - pad
                            if 0 <= ix < W:
                                img[n, c, iy, ix] += col[r0 + ox, j]


@kernel()
def _column_range(kx, stride, pad, W, ow):
    """``(lo, hi)``: the output columns ox whose input column ox*stride + kx - pad lies in [0, W)."""
    lo = 0
    while lo < ow and lo * stride + kx - pad < 0:
        lo += 1
    hi = ow
    while hi > lo and (hi - 1) * stride + kx - pad >= W:
        hi -= 1
    return lo, hi


@kernel()
def _im2col_sample(x, n, fh, fw, stride, pad, colT):
    """``colT`` (C*FH*FW, OH*OW): sample n's windows as columns, each row one tap (c, ky, kx), zero-padded.

    Transposed against the book's col so that each row is filled along an
    output row of contiguous reads and writes (stride 1), which vectorises.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    zero = x.dtype.type(0)
    for c in range(C):
        for ky in range(fh):
            for kx in range(fw):
                j = (c * fh + ky) * fw + kx
                lo, hi = _column_range(kx, stride, pad, W, ow)
                for oy in range(oh):
                    iy = oy * stride + ky - pad
                    row = colT[j, oy * ow:(oy + 1) * ow]
                    if iy < 0 or iy >= H:
                        row[:] = zero
                        continue
                    for ox in range(lo):
                        row[ox] = zero
                    for ox in range(lo, hi):
                        row[ox] = x[n, c, iy, ox * stride + kx - pad]
                    for ox in range(hi, ow):
                        row[ox] = zero


@kernel()
def _col2im_sample(dcolT, n, fh, fw, stride, pad, dx):
    """Add ``dcolT`` (C*FH*FW, OH*OW), laid out as :func:`_im2col_sample`'s, into sample n of ``dx``."""
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    for c in range(C):
        for ky in range(fh):
            for kx in range(fw):
                j = (c * fh + ky) * fw + kx
                lo, hi = _column_range(kx, stride, pad, W, ow)
                for oy in range(oh):
                    iy = oy * stride + ky - pad
                    if iy < 0 or iy >= H:
                        continue
                    for ox in range(lo, hi):
                        dx[n, c, iy, ox * stride + kx - pad] += dcolT[j, oy * ow + ox]


@kernel()
def conv_forward(x, W2, b, fh, fw, stride, pad, relu, col, out):
    """``out`` (N, FN, OH, OW) = W2 @ im2col(x[n]) + b per sample (then ReLU when ``relu``).

    W2 is the filters as (FN, C*FH*FW); ``col`` (N, C*FH*FW, OH*OW) keeps each
    sample's columns for the backward. One GEMM per sample writes the (FN,
    OH*OW) output straight into NCHW order: no transpose pass.
    """
    N, FN = out.shape[0], out.shape[1]
    P = out.shape[2] * out.shape[3]
    zero = out.dtype.type(0)
    for n in range(N):
        colT = col[n]
        _im2col_sample(x, n, fh, fw, stride, pad, colT)
        o = out[n].reshape(FN, P)
        np.dot(W2, colT, o)
        for f in range(FN):
            bf = b[f]
            for p in range(P):
                v = o[f, p] + bf
                if relu and v <= zero:
                    v = zero
                o[f, p] = v


@kernel()
def conv_backward(dout, out, col, W2, fh, fw, stride, pad, relu, need_dx, g, dW_n, dcolT, dW2, db, dx):
    """dW2 (FN, C*FH*FW), db (FN,) and, when ``need_dx``, dx (N, C, H, W) from dout (N, FN, OH, OW).

    With ``relu`` the gradient is zeroed where the forward output ``out`` is
    <= 0 (the book's Relu mask). Scratch: ``g`` (FN, OH*OW), ``dW_n`` like
    dW2, ``dcolT`` (C*FH*FW, OH*OW).
    """
    N, FN = dout.shape[0], dout.shape[1]
    P = dout.shape[2] * dout.shape[3]
    zero = dout.dtype.type(0)
    dW2[:] = zero
    db[:] = zero
    if need_dx:
        dx[:] = zero
    for n in range(N):
        d = dout[n].reshape(FN, P)
        o = out[n].reshape(FN, P)
        for f in range(FN):
            s = zero
            for p in range(P):
                v = d[f, p]
                if relu and o[f, p] <= zero:
                    v = zero
                g[f, p] = v
                s += v
            db[f] += s
        np.dot(g, col[n].T, dW_n)
        dW2 += dW_n
        if need_dx:
            np.dot(W2.T, g, dcolT)
            _col2im_sample(dcolT, n, fh, fw, stride, pad, dx)


@kernel()
def pool_forward(x, ph, pw, stride, pad, out, arg_max):
    """Max pooling: ``out`` (N, C, OH, OW) and ``arg_max`` (N*OH*OW*C,), padding counting as zeros (im2col's)."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    zero = x.dtype.type(0)
    # Channels innermost: arg_max is written in order ((n, oy, ox, c) is the book's layout), while one
    # sample's image stays in cache; channels outermost swept arg_max C times (1.9x slower on SimpleConvNet's pool).
    if pad == 0 and ph == 2 and pw == 2:
        # The networks' 2x2 pools: a fixed 3-tap loop LLVM unrolls (loop overhead outweighed the compares).
        for n in range(N):
            for oy in range(oh):
                for ox in range(ow):
                    for c in range(C):
                        y, z = oy * stride, ox * stride
                        best = x[n, c, y, z]
                        at = 0
                        for k in range(1, 4):
                            v = x[n, c, y + k // 2, z + k % 2]
                            take = (v > best) | ((v != v) & (best == best))
                            best = v if take else best
                            at = k if take else at
                        out[n, c, oy, ox] = best
                        arg_max[((n * oh + oy) * ow + ox) * C + c] = at
        return
    if pad == 0:
        # Every window lies inside the image: no bounds test per element (the common case).
        for n in range(N):
            for oy in range(oh):
                for ox in range(ow):
                    for c in range(C):
                        best = x[n, c, oy * stride, ox * stride]
                        at = 0
                        for ky in range(ph):
                            for kx in range(pw):
                                v = x[n, c, oy * stride + ky, ox * stride + kx]
                                # Non-short-circuit tests and selects: no branch to mispredict on random data.
                                take = (v > best) | ((v != v) & (best == best))
                                best = v if take else best
                                at = ky * pw + kx if take else at
                        out[n, c, oy, ox] = best
                        arg_max[((n * oh + oy) * ow + ox) * C + c] = at
        return
    for n in range(N):
        for oy in range(oh):
            for ox in range(ow):
                for c in range(C):
                    best = zero
                    at = -1
                    for ky in range(ph):
                        iy = oy * stride + ky - pad
                        for kx in range(pw):
                            ix = ox * stride + kx - pad
                            v = x[n, c, iy, ix] if 0 <= iy < H and 0 <= ix < W else zero
                            # np.argmax keeps the first maximum and stops at the first NaN.
                            if at < 0 or v > best or (v != v and best == best):
                                best = v
                                at = ky * pw + kx
                    out[n, c, oy, ox] = best
                    arg_max[((n * oh + oy) * ow + ox) * C + c] = at


@kernel()
def pool_backward(dout, arg_max, ph, pw, stride, pad, dx):
    """``dx`` (N, C, H, W): each window's gradient added at its maximum (nothing for a padding maximum)."""
    N, C, H, W = dx.shape
    oh, ow = dout.shape[2], dout.shape[3]
    dx[:] = 0
    for n in range(N):
        for oy in range(oh):
            for ox in range(ow):
                for c in range(C):
                    at = arg_max[((n * oh + oy) * ow + ox) * C + c]
                    iy = oy * stride + at // pw - pad
                    ix = ox * stride + at % pw - pad
                    if 0 <= iy < H and 0 <= ix < W:
                        dx[n, c, iy, ix] += dout[n, c, oy, ox]

