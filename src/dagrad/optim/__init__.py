"""Optimizers and learning-rate schedules (as torch.optim), plus an L1 penalty helper. A training loop:

opt = dagrad.optim.Adam(model.parameters(), lr=1e-3)
sched = dagrad.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
for x, y in loader:
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()
sched.step()
"""

from dagrad.optim import lr_scheduler
from dagrad.optim.adadelta import Adadelta
from dagrad.optim.adagrad import Adagrad
from dagrad.optim.adam import Adam, AdamW
from dagrad.optim.optimizer import Optimizer
from dagrad.optim.regularization import l1_penalty
from dagrad.optim.rmsprop import RMSprop
from dagrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "l1_penalty", "lr_scheduler"]
