"""Fixtures of Tests/LuzOptimTests/LBFGSTests.swift: torch.optim.LBFGS in float64.

Run with a Python that has torch (the tests were generated with torch 2.15):
    python Tests/Fixtures/lbfgs_fixture.py
and paste the printed arrays into the Swift tests.

Two problems, each run for 5 calls of step(closure):
  - Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2), gradient set by hand;
  - least squares: mean((A w + c - b)^2) over a fixed 6x3 A, with parameters w [3] and c [1]
    (two tensors, so the flattening is exercised), gradient by autograd.
"""
import torch

torch.set_default_dtype(torch.float64)


def rosenbrock_closure(p, optimizer):
    def closure():
        optimizer.zero_grad()
        x, y = p[0].item(), p[1].item()
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        p.grad = torch.tensor([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
        return loss
    return closure


A = torch.tensor([[1.0, 0.5, -0.3], [0.2, -1.0, 0.8], [0.7, 0.1, 0.4],
                  [-0.6, 0.9, 0.2], [0.3, 0.3, -1.1], [1.2, -0.4, 0.6]])
b = torch.tensor([0.5, -1.0, 0.8, 0.3, -0.7, 1.4])


def least_squares_closure(w, c, optimizer):
    def closure():
        optimizer.zero_grad()
        loss = ((A @ w + c - b) ** 2).mean()
        loss.backward()
        return loss.item()
    return closure


def run(name, make_params, make_closure, **options):
    params = make_params()
    optimizer = torch.optim.LBFGS(params, **options)
    closure = make_closure(*params, optimizer)
    values, losses = [], []
    for _ in range(5):
        losses.append(float(optimizer.step(closure)))
        values += [v for p in params for v in p.detach().flatten().tolist()]
    state = optimizer.state[params[0]]
    print(f"// {name}: {options}")
    print(f"//   func_evals {state['func_evals']}, n_iter {state['n_iter']}, history {len(state['old_dirs'])}")
    print(f"values: {[repr(v) for v in values]}".replace("'", ""))
    print(f"losses: {[repr(v) for v in losses]}".replace("'", ""))
    print()


rosenbrock = lambda: [torch.tensor([-1.5, 2.0], requires_grad=True)]
least_squares = lambda: [torch.tensor([0.1, -0.2, 0.3], requires_grad=True), torch.tensor([0.0], requires_grad=True)]

run("rosenbrock, fixed steps", rosenbrock, rosenbrock_closure, lr=0.1, max_iter=4)
run("rosenbrock, strong Wolfe", rosenbrock, rosenbrock_closure, max_iter=4, line_search_fn="strong_wolfe")
run("least squares, fixed steps", least_squares, least_squares_closure, lr=0.5, max_iter=4, history_size=2)
run("least squares, strong Wolfe", least_squares, least_squares_closure, max_iter=4, history_size=2,
    line_search_fn="strong_wolfe")
