"""Update-in-backward: a row-wise optimizer that lives inside an embedding module.

A :class:`RowOptimizer` given to :class:`embtable.torch.Embedding` or
:class:`embtable.torch.EmbeddingBag` (``optimizer=...``) is applied by the backward itself: the
coalesced row gradient of the batch (:func:`embtable.functional.embedding_backward` with
``sparse=True``) updates the touched rows of the weight and of the optimizer state in place, and
the weight receives no gradient tensor (``weight.grad`` stays ``None``). The state is made of
registered buffers of the optimizer, which is a submodule of the layer, so it is in the layer's
``state_dict`` (keys ``optimizer.*``), moves with ``.to()`` and survives ``deepcopy`` and pickling.

On float32/float64 CPU tables the update runs in numba kernels (:mod:`embtable.kernels.optim`,
and :mod:`embtable.torch._rowwise` for row-wise Adagrad); elsewhere (float16, CUDA, ...) it runs
the same rules in torch ops.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from .._errors import OptionError
from ..kernels import load
from ..optim._rules import RULES, run_rows
from ..sparse import RowSparseGrad
from ._autograd import bump_version

__all__ = ["RowOptimizer"]

Rule = Literal["sgd", "adagrad", "rowwise_adagrad", "adam"]
_RULES = tuple(RULES)  # the table of row-update rules, shared with embtable.optim
_DEFAULT_EPS = {name: float(rule.hyper.get("eps", 0.0)) for name, rule in RULES.items()}


class RowOptimizer(torch.nn.Module):
    """A row-wise optimizer applied in the backward of an embedding module.

    Each backward through the layer is one optimizer step on the rows that the batch touched
    (rows that appear with a zero gradient included, as with torch's sparse gradients). Rules:

    - ``"sgd"``: ``w[r] -= lr * g[r]`` (torch's ``SGD`` on a sparse gradient).
    - ``"adagrad"``: torch's sparse ``Adagrad`` (``lr_decay``, ``initial_accumulator_value``,
      ``eps``); state ``sum`` ``(V, D)``.
    - ``"rowwise_adagrad"``: one accumulator per row, ``acc[r] += mean(g[r]**2)``,
      ``w[r] -= lr * g[r] / (sqrt(acc[r]) + eps)``; state ``sum`` ``(V,)``.
    - ``"adam"``: lazy Adam, i.e. torch's ``SparseAdam`` (``betas``, ``eps``); state
      ``exp_avg``, ``exp_avg_sq`` ``(V, D)``.

    Every rule also keeps ``step``, the number of steps taken. Hyperparameters are plain
    attributes (``opt.lr = 0.01`` takes effect at the next backward).

    Args:
        rule: one of ``"sgd"``, ``"adagrad"``, ``"rowwise_adagrad"``, ``"adam"``.
        lr: the learning rate.
        eps: the denominator's epsilon (default 1e-10 for the Adagrads, 1e-8 for Adam).
        betas: Adam's ``(beta1, beta2)``.
        lr_decay: Adagrad's learning-rate decay.
        initial_accumulator_value: the Adagrads' starting accumulator.

    Note:
        One optimizer belongs to one table; pass a new instance to each layer. If one forward
        uses the layer twice, each use's backward is a separate step. If the layer's weight is
        replaced by one of another shape or device (``emb.weight = Parameter(...)``), the next
        step starts a fresh state for it (zero moments, initial accumulators, ``step = 0``),
        as a new optimizer would; the state is checked against the weight at every step.

    Example:
        >>> import torch, embtable.torch as et
        >>> _ = torch.manual_seed(0)
        >>> emb = et.Embedding(4, 2, optimizer=et.RowOptimizer("sgd", lr=0.5))
        >>> before = emb.weight.detach().clone()
        >>> emb(torch.tensor([1, 1])).sum().backward()
        >>> emb.weight.grad is None, (before - emb.weight.detach())[:2].tolist()
        (True, [[0.0, 0.0], [1.0, 1.0]])
        >>> sorted(emb.state_dict())
        ['optimizer.step', 'weight']
    """

    def __init__(
        self,
        rule: Rule,
        *,
        lr: float,
        eps: float | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        lr_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ) -> None:
        super().__init__()
        if rule not in _RULES:
            raise OptionError(f"unknown optimizer rule {rule!r}; expected one of {_RULES}")
        if not lr >= 0:
            raise OptionError(f"Invalid learning rate: {lr}")
        eps = _DEFAULT_EPS[rule] if eps is None else eps
        if not eps >= 0:
            raise OptionError(f"Invalid epsilon value: {eps}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise OptionError(f"Invalid beta parameters: {betas}")
        self.rule: Rule = rule
        self.lr = float(lr)
        self.eps = float(eps)
        self.betas = (float(betas[0]), float(betas[1]))
        self.lr_decay = float(lr_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self._shape: tuple[int, int] | None = None

    def bind_(self, weight: torch.Tensor) -> RowOptimizer:
        """Create the state for ``weight``'s shape, dtype and device (once per optimizer).

        A layer built with ``optimizer=`` binds it itself.

        Example:
            >>> import torch
            >>> opt = RowOptimizer("adagrad", lr=0.1).bind_(torch.zeros(5, 3))
            >>> tuple(opt.sum.shape)
            (5, 3)
        """
        shape = (int(weight.shape[0]), int(weight.shape[1]))
        if self._shape is not None:
            raise OptionError(
                "this RowOptimizer already belongs to a table; give each layer its own instance"
            )
        self._shape = shape
        self._allocate(weight)
        return self

    def _allocate(self, weight: torch.Tensor) -> None:
        """(Re)create the state buffers for ``weight`` and reset them."""
        shape = (int(weight.shape[0]), int(weight.shape[1]))
        self._shape = shape
        dtype = weight.dtype if weight.dtype in (torch.float32, torch.float64) else torch.float32
        options = {"dtype": dtype, "device": weight.device}
        if self.rule == "adagrad":
            self.register_buffer("sum", torch.empty(shape, **options))  # type: ignore[arg-type]
        elif self.rule == "rowwise_adagrad":
            self.register_buffer("sum", torch.empty(shape[0], **options))  # type: ignore[arg-type]
        elif self.rule == "adam":
            self.register_buffer("exp_avg", torch.empty(shape, **options))  # type: ignore[arg-type]
            self.register_buffer("exp_avg_sq", torch.empty(shape, **options))  # type: ignore[arg-type]
        self.step = self.step.to(weight.device)
        self.reset_state()

    def _state_fits(self, weight: torch.Tensor) -> bool:
        """Whether the state buffers (as they are now, e.g. after ``load_state_dict``) match
        ``weight``: shape and device."""
        if weight.dim() != 2:
            return False
        expected = {
            "sum": weight.shape if self.rule == "adagrad" else weight.shape[:1],
            "exp_avg": weight.shape,
            "exp_avg_sq": weight.shape,
        }
        for name, shape in expected.items():
            buffer = self._buffers.get(name)
            if buffer is not None and (buffer.shape != shape or buffer.device != weight.device):
                return False
        return True

    def _apply(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        """``.to()``, ``.half()``, ...: the state follows the device but stays float32/float64
        (float16 or bfloat16 accumulators would underflow, as they do in torch's optimizers)."""
        super()._apply(fn, *args, **kwargs)
        for name, buffer in self._buffers.items():
            if buffer is not None and buffer.dtype in (torch.float16, torch.bfloat16):
                self._buffers[name] = buffer.float()
        return self

    @torch.no_grad()
    def reset_state(self) -> None:
        """Forget every step: zero moments, initial accumulators, ``step = 0``.

        Example:
            >>> import torch
            >>> from embtable.sparse import RowSparseGrad
            >>> weight = torch.zeros(4, 2)
            >>> opt = RowOptimizer("adam", lr=0.1).bind_(weight)
            >>> opt.apply_rows_(weight, RowSparseGrad([1], torch.ones(1, 2).numpy(), num_rows=4))
            >>> int(opt.step), float(opt.exp_avg.abs().sum()) > 0
            (1, True)
            >>> opt.reset_state()
            >>> int(opt.step), float(opt.exp_avg.abs().sum())
            (0, 0.0)
        """
        self.step.zero_()
        if self.rule in ("adagrad", "rowwise_adagrad"):
            self.sum.fill_(self.initial_accumulator_value)
        elif self.rule == "adam":
            self.exp_avg.zero_()
            self.exp_avg_sq.zero_()

    def extra_repr(self) -> str:
        """The rule and its settings, inside ``repr(optimizer)``.

        Example:
            >>> RowOptimizer("rowwise_adagrad", lr=0.05)
            RowOptimizer('rowwise_adagrad', lr=0.05, eps=1e-10)
        """
        text = f"{self.rule!r}, lr={self.lr}"
        if self.rule != "sgd":
            text += f", eps={self.eps}"
        if self.rule == "adam":
            text += f", betas={self.betas}"
        if self.rule in ("adagrad", "rowwise_adagrad"):
            if self.lr_decay:
                text += f", lr_decay={self.lr_decay}"
            if self.initial_accumulator_value:
                text += f", initial_accumulator_value={self.initial_accumulator_value}"
        return text

    @torch.no_grad()
    def apply_rows_(self, weight: torch.Tensor, grad: RowSparseGrad | torch.Tensor) -> None:
        """One step on the rows of ``grad`` (a :class:`RowSparseGrad` or a torch sparse COO
        tensor), in place on ``weight`` and the state; bumps ``weight``'s version counter.

        The state is first checked against ``weight``: a weight replaced by one of another
        shape or device gets a fresh state (the kernels never index past the state).

        Example:
            >>> import torch
            >>> from embtable.sparse import RowSparseGrad
            >>> weight = torch.ones(3, 2)
            >>> opt = RowOptimizer("sgd", lr=0.5).bind_(weight)
            >>> opt.apply_rows_(weight, RowSparseGrad([2], torch.ones(1, 2).numpy(), num_rows=3))
            >>> weight.tolist()
            [[1.0, 1.0], [1.0, 1.0], [0.5, 0.5]]
        """
        if not self._state_fits(weight):
            self._allocate(weight)
        self.step.add_(1)
        if isinstance(grad, RowSparseGrad):
            rows_array, values_array = grad.rows, grad.values
            if weight.device.type == "cpu" and weight.dtype in (torch.float32, torch.float64):
                if len(rows_array):
                    self._apply_kernels(weight.detach().numpy(), rows_array, values_array)
                bump_version(weight)
                return
            rows = torch.from_numpy(rows_array).to(weight.device)
            values = torch.from_numpy(values_array).to(weight.device)
        else:
            grad = grad.coalesce()
            rows, values = grad.indices()[0], grad.values()
        if rows.numel():
            self._apply_torch(weight.detach(), rows, values)
        bump_version(weight)

    def _scalars(self) -> dict[str, float]:
        step = int(self.step)
        beta1, beta2 = self.betas
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        return {
            "clr": self.lr / (1 + (step - 1) * self.lr_decay),
            "step_size": self.lr * bias_correction2**0.5 / bias_correction1,
        }

    def _apply_kernels(self, weight: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
        real = weight.dtype.type
        values = np.ascontiguousarray(values, dtype=weight.dtype)
        scalars = self._scalars()
        if self.rule == "rowwise_adagrad":
            # the table's kernel; lr_decay is not applied here (nor in the torch-ops path)
            rule = RULES["rowwise_adagrad"]
            scalars_rw = rule.scalars(lr=self.lr, step=int(self.step), eps=self.eps)
            run_rows(rule, weight, rows, values, [self.sum.numpy()], scalars_rw)
            return
        optim = load("optim")
        if self.rule == "sgd":
            optim.sgd_rows_(
                weight,
                rows,
                np.arange(len(rows), dtype=np.int64),
                values,
                np.empty((0, weight.shape[1]), weight.dtype),
                real(self.lr),
                real(0),
                real(1),
                real(0),
                False,
                False,
                False,
            )
        elif self.rule == "adagrad":
            optim.adagrad_rows_(
                weight,
                rows,
                values,
                self.sum.numpy(),
                real(scalars["clr"]),
                real(self.eps),
                real(0),
                False,
            )
        else:
            beta1, beta2 = self.betas
            optim.adam_rows_(
                weight,
                rows,
                values,
                self.exp_avg.numpy(),
                self.exp_avg_sq.numpy(),
                np.empty((0, weight.shape[1]), weight.dtype),
                real(1 - beta1),
                real(beta2),
                real(1 - beta2),
                real(self.eps),
                real(0),
                real(1),
                real(scalars["step_size"]),
                real(1),
                False,
                False,
                False,
                True,
            )

    def _apply_torch(self, weight: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> None:
        """The same rules in torch ops (any device and dtype); ``rows`` are unique."""
        scalars = self._scalars()
        if self.rule == "sgd":
            weight.index_add_(0, rows, values.to(weight.dtype), alpha=-self.lr)
            return
        if self.rule == "adagrad":
            g = values.to(self.sum.dtype)
            total = self.sum.index_select(0, rows) + g * g
            self.sum.index_copy_(0, rows, total)
            update = g / (total.sqrt() + self.eps)
            weight.index_add_(0, rows, update.to(weight.dtype), alpha=-scalars["clr"])
            return
        if self.rule == "rowwise_adagrad":
            g = values.to(self.sum.dtype)
            total = self.sum.index_select(0, rows) + (g * g).mean(dim=1)
            self.sum.index_copy_(0, rows, total)
            update = g * (self.lr / (total.sqrt() + self.eps)).unsqueeze(1)
            weight.index_add_(0, rows, update.to(weight.dtype), alpha=-1)
            return
        beta1, beta2 = self.betas
        g = values.to(self.exp_avg.dtype)
        m = self.exp_avg.index_select(0, rows)
        v = self.exp_avg_sq.index_select(0, rows)
        m_update = (g - m) * (1 - beta1)
        v_update = (g * g - v) * (1 - beta2)
        self.exp_avg.index_copy_(0, rows, m + m_update)
        self.exp_avg_sq.index_copy_(0, rows, v + v_update)
        update = (m_update + m) / ((v_update + v).sqrt() + self.eps)
        weight.index_add_(0, rows, update.to(weight.dtype), alpha=-scalars["step_size"])
