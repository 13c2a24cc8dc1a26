"""fastdl.numerical_gradient_2d (the book's common/gradient.py) against closed-form gradients."""
import numpy as np
import pytest

from fastdl import numerical_gradient_2d


def test_rows_of_a_quadratic_give_twice_the_points():
    """The book's ch04 gradient_2d.py: f(x) = sum(x**2) at each row (point) of X, gradient 2 * X."""
    X = np.array([np.arange(-2, 2.5, 0.25), np.arange(2, -2.5, -0.25)]).T.copy()
    before = X.copy()
    np.testing.assert_allclose(numerical_gradient_2d(lambda x: np.sum(x**2), X), 2 * X, atol=1e-9)
    np.testing.assert_array_equal(X, before)  # every element restored


def test_f_sees_one_row_at_a_time():
    """f(x) = x0 * x1 + x2**3 per row: gradient (x1, x0, 3 x2**2), up to the central difference's h**2 x2 term."""
    X = np.array([[1.0, 2.0, 3.0], [-0.5, 4.0, 0.5]])
    grad = numerical_gradient_2d(lambda x: x[0] * x[1] + x[2] ** 3, X)
    expected = np.stack([X[:, 1], X[:, 0], 3 * X[:, 2] ** 2], axis=1)
    np.testing.assert_allclose(grad, expected, atol=1e-7)


def test_a_1d_x_is_one_point():
    x = np.array([3.0, -4.0])
    np.testing.assert_allclose(numerical_gradient_2d(lambda v: np.sqrt(np.sum(v**2)), x), x / 5.0, atol=1e-8)


def test_other_ranks_and_non_float_arrays_are_refused():
    with pytest.raises(ValueError, match=r"1-D or 2-D X, got shape \(2, 2, 2\)"):
        numerical_gradient_2d(lambda x: 0.0, np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="numerical_gradient_2d perturbs x in place.*int64"):
        numerical_gradient_2d(lambda x: 0.0, np.zeros((2, 2), dtype=np.int64))
