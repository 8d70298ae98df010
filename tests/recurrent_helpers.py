"""Helpers the recurrent-layer tests share."""

from dlteach.core import Layer


class WithState(Layer):
    """A recurrent layer with a fixed initial state, so that gradcheck, which calls
    forward(x), covers forward(x, h0) and forward(x, h0, c0)."""

    def __init__(self, inner, *states):
        self.inner, self.states = inner, states

    def forward(self, x):
        return self.inner.forward(x, *self.states)

    def backward(self, grad):
        return self.inner.backward(grad)

    def named_parameters(self, prefix=""):
        return self.inner.named_parameters(prefix)
