"""Convolution and max-pooling kernels (the book's chapter 7), in place into caller-provided buffers.

Layouts are the book's: images (N, C, H, W); filters (FN, C, FH, FW); ``col``
(N*OH*OW, C*FH*FW) with rows ordered (n, oy, ox) and columns (c, ky, kx), as
``common/util.py::im2col`` builds it; pooling's ``arg_max`` (N*OH*OW*C,) in the
book's (n, oy, ox, c) order, each the window offset ky*PW + kx of the first
maximum (``np.argmax``'s tie rule).

Convolution is im2col + one BLAS GEMM (``np.dot(a, b, out)``, SciPy's
OpenBLAS) over the whole batch for every layer shape. Direct loops were
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
def conv_forward(x, W2, b, fh, fw, stride, pad, relu, col, out2d, out):
    """``out`` (N, FN, OH, OW) = im2col(x) @ W2.T + b (then ReLU when ``relu``).

    W2 is the filters as (FN, C*FH*FW); ``col`` and ``out2d`` (N*OH*OW, FN) are scratch.
    """
    im2col(x, fh, fw, stride, pad, col)
    np.dot(col, W2.T, out2d)
    N, FN, oh, ow = out.shape
    zero = out.dtype.type(0)
    for n in range(N):
        for f in range(FN):
            bf = b[f]
            for oy in range(oh):
                r0 = (n * oh + oy) * ow
                for ox in range(ow):
                    v = out2d[r0 + ox, f] + bf
                    if relu and v <= zero:
                        v = zero
                    out[n, f, oy, ox] = v


@kernel()
def conv_backward(dout, out, col, W2, fh, fw, stride, pad, relu, need_dx, dout2d, dW2, db, dcol, dx):
    """dW2 (FN, C*FH*FW), db (FN,) and, when ``need_dx``, dx (N, C, H, W) from dout (N, FN, OH, OW).

    With ``relu`` the gradient is zeroed where the forward output ``out`` is
    <= 0 (the book's Relu mask). ``dout2d`` (N*OH*OW, FN) and ``dcol`` are scratch.
    """
    N, FN, oh, ow = dout.shape
    zero = dout.dtype.type(0)
    for n in range(N):
        for f in range(FN):
            for oy in range(oh):
                r0 = (n * oh + oy) * ow
                for ox in range(ow):
                    g = dout[n, f, oy, ox]
                    if relu and out[n, f, oy, ox] <= zero:
                        g = zero
                    dout2d[r0 + ox, f] = g
    db[:] = 0
    for r in range(N * oh * ow):
        for f in range(FN):
            db[f] += dout2d[r, f]
    np.dot(dout2d.T, col, dW2)
    if need_dx:
        np.dot(dout2d, W2, dcol)
        col2im(dcol, fh, fw, stride, pad, dx)


@kernel()
def pool_forward(x, ph, pw, stride, pad, out, arg_max):
    """Max pooling: ``out`` (N, C, OH, OW) and ``arg_max`` (N*OH*OW*C,), padding counting as zeros (im2col's)."""
    N, C, H, W = x.shape
    oh, ow = out.shape[2], out.shape[3]
    zero = x.dtype.type(0)
    for n in range(N):
        for c in range(C):
            for oy in range(oh):
                for ox in range(ow):
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

