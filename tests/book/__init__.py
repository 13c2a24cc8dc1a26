"""The book's math in plain NumPy, re-typed from the book's ``common/`` and ch05-ch06 code.

This package is the test oracle: it never imports fastdl. Its modules mirror
the book's ``common/`` package (functions, layers, optimizer, gradient,
multi_layer_net, ...), so a test can hold the two side by side.
"""
