"""A two-layer network fitted by hand with .backward(): y = sin(x) on [-3, 3], plain gradient descent."""

import dagrad as dg

dg.manual_seed(0)
x = dg.linspace(-3, 3, 256).reshape(-1, 1)
y = x.sin()
w1 = (dg.randn(1, 32) * 0.5).requires_grad_()
b1 = dg.zeros(32, requires_grad=True)
w2 = (dg.randn(32, 1) * 0.2).requires_grad_()
b2 = dg.zeros(1, requires_grad=True)
for step in range(2001):
    pred = (x @ w1 + b1).tanh() @ w2 + b2
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with dg.no_grad():
        for p in (w1, b1, w2, b2):
            p -= 0.05 * p.grad
            p.grad = None
    if step % 500 == 0:
        print(f"step {step:4d}  loss {loss.item():.5f}")
print(f"final mean squared error {loss.item():.5f}")
