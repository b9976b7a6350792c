"""Update-in-backward: a row-wise optimizer that lives inside an embedding module.

A :class:`RowOptimizer` given to :class:`embtable.torch.Embedding` or
:class:`embtable.torch.EmbeddingBag` (``optimizer=...``) is applied by the backward itself: the
coalesced row gradient of the batch (:func:`embtable.functional.embedding_backward` with
``sparse=True``) updates the touched rows of the weight and of the optimizer state in place, and
the weight receives no gradient tensor (``weight.grad`` stays ``None``). The state is made of
registered buffers of the optimizer, which is a submodule of the layer, so it is in the layer's
``state_dict`` (keys ``optimizer.*``), moves with ``.to()`` and survives ``deepcopy`` and pickling.

Every rule comes from the table of :mod:`embtable.optim._rules` (``RULES``): its state buffers,
its hyper-parameter checks, its kernel scalars and its numba kernel (:mod:`embtable.kernels.optim`),
the same entries :mod:`embtable.optim` uses, so a rule added there is a ``RowOptimizer`` rule too.
On float32/float64 CPU tables the kernel updates the weight and the state in place; elsewhere
(float16/bfloat16 tables, CUDA, ...) the touched rows of the weight and of the state are copied to
CPU arrays (float32 for half tables, whose state is float32), stepped by the same kernel and copied
back.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from .._errors import OptionError
from ..optim._rules import RowRule, _check_betas, run_rows
from ..optim._rules import rule as _rule
from ..sparse import RowSparseGrad
from ._autograd import bump_version

__all__ = ["RowOptimizer"]

Rule = Literal["sgd", "adagrad", "rowwise_adagrad", "adam"]


class RowOptimizer(torch.nn.Module):
    """A row-wise optimizer applied in the backward of an embedding module.

    Each backward through the layer is one optimizer step on the rows that the batch touched
    (rows that appear with a zero gradient included, as with torch's sparse gradients). Rules:

    - ``"sgd"``: ``w[r] -= lr * g[r]`` (torch's ``SGD`` on a sparse gradient).
    - ``"adagrad"``: torch's sparse ``Adagrad`` (``lr_decay``, ``initial_accumulator_value``,
      ``eps``); state ``sum`` ``(V, D)``.
    - ``"rowwise_adagrad"``: one accumulator per row, ``acc[r] += mean(g[r]**2)``,
      ``w[r] -= clr * g[r] / (sqrt(acc[r]) + eps)`` (``clr`` with ``lr_decay`` as Adagrad's);
      state ``sum`` ``(V,)``.
    - ``"adam"``: lazy Adam, i.e. torch's ``SparseAdam`` (``betas``, ``eps``); state
      ``exp_avg``, ``exp_avg_sq`` ``(V, D)``.

    Every rule also keeps ``step``, the number of steps taken. Hyperparameters are plain
    attributes (``opt.lr = 0.01`` takes effect at the next backward); each rule checks (with
    :mod:`embtable.optim`'s messages) and uses the ones it names, and ignores the others.

    Args:
        rule: one of ``"sgd"``, ``"adagrad"``, ``"rowwise_adagrad"``, ``"adam"``.
        lr: the learning rate.
        eps: the denominator's epsilon (default 1e-10 for the Adagrads, 1e-8 for Adam).
        betas: Adam's ``(beta1, beta2)``.
        lr_decay: Adagrad's learning-rate decay.
        initial_accumulator_value: the Adagrads' starting accumulator.

    Raises:
        OptionError: an unknown rule or an invalid hyper-parameter; OptionTypeError: one that is
            not a number.

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
        row_rule = _rule(rule)  # OptionError for an unknown rule, naming the rules
        hyper = {
            "lr": lr,
            "eps": row_rule.hyper.get("eps", 0.0) if eps is None else eps,
            "betas": tuple(betas) if isinstance(betas, (tuple, list)) else betas,
            "lr_decay": lr_decay,
            "initial_accumulator_value": initial_accumulator_value,
        }
        row_rule.check(hyper)
        if "betas" not in row_rule.hyper:  # unused by this rule, but kept as an attribute
            _check_betas(hyper["betas"])
        self.rule: Rule = rule
        self.lr = float(lr)
        self.eps = float(hyper["eps"])
        self.betas = (float(betas[0]), float(betas[1]))
        self.lr_decay = float(lr_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self._shape: tuple[int, int] | None = None

    @property
    def _row_rule(self) -> RowRule:
        return _rule(self.rule)

    def _hyper(self) -> dict[str, Any]:
        """The hyper-parameters as the rule table takes them (the attributes, as they are now)."""
        return {
            "lr": self.lr,
            "eps": self.eps,
            "betas": self.betas,
            "lr_decay": self.lr_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
        }

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
        for spec in self._row_rule.state:
            buffer = torch.empty(spec.shape(shape), dtype=dtype, device=weight.device)
            self.register_buffer(spec.name, buffer)
        self.step = self.step.to(weight.device)
        self.reset_state()

    def _state_fits(self, weight: torch.Tensor) -> bool:
        """Whether the state buffers (as they are now, e.g. after ``load_state_dict``) match
        ``weight``: shape and device."""
        if weight.dim() != 2:
            return False
        for spec in self._row_rule.state:
            buffer = self._buffers.get(spec.name)
            shape = spec.shape(tuple(weight.shape))
            if buffer is not None and (
                tuple(buffer.shape) != shape or buffer.device != weight.device
            ):
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
        hyper = self._hyper()
        for spec in self._row_rule.state:
            self._buffers[spec.name].fill_(spec.initial(hyper))  # type: ignore[union-attr]

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
        else:
            grad = grad.coalesce()
            rows_array = grad.indices()[0].cpu().numpy()
            values_array = grad.values()  # a tensor: NumPy has no bfloat16
        if len(rows_array):
            if weight.device.type == "cpu" and weight.dtype in (torch.float32, torch.float64):
                self._step_in_place(weight.detach().numpy(), rows_array, values_array)
            else:
                self._step_copied_rows(weight.detach(), rows_array, values_array)
        bump_version(weight)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            spec.name: self._buffers[spec.name].numpy()  # type: ignore[union-attr]
            for spec in self._row_rule.state
        }

    def _step_in_place(self, weight: np.ndarray, rows: np.ndarray, values: Any) -> None:
        """The rule's kernel on a float32/float64 CPU table and its state, in place."""
        row_rule = self._row_rule
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", torch.from_numpy(weight[:0]).dtype).numpy()
        values = np.ascontiguousarray(values, dtype=weight.dtype)
        state = row_rule.kernel_state(self._state_arrays(), weight.shape[1], weight.dtype)
        scalars = row_rule.scalars(step=int(self.step), **self._hyper())
        run_rows(row_rule, weight, np.asarray(rows, dtype=np.int64), values, state, scalars)

    def _step_copied_rows(self, weight: torch.Tensor, rows: np.ndarray, values: Any) -> None:
        """Any other table (float16, bfloat16, CUDA, ...): the touched rows of the weight and of
        the state go to CPU arrays in the state's dtype, the kernel steps them, and they are
        written back (``rows`` are unique)."""
        row_rule = self._row_rule
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(weight.device)
        buffers = {spec.name: self._buffers[spec.name] for spec in row_rule.state}
        compute = next(iter(buffers.values())).dtype if buffers else torch.float32
        if not buffers and weight.dtype == torch.float64:
            compute = torch.float64

        def cpu_rows(tensor: torch.Tensor) -> np.ndarray:
            return tensor.index_select(0, index).to("cpu", compute).contiguous().numpy()

        weight_rows = cpu_rows(weight)
        state_rows = {name: cpu_rows(buffer) for name, buffer in buffers.items()}  # type: ignore[arg-type]
        if isinstance(values, torch.Tensor):
            values = values.detach().to("cpu", compute).numpy()
        values = np.ascontiguousarray(values, dtype=weight_rows.dtype)
        dim = weight_rows.shape[1]
        state = row_rule.kernel_state(state_rows, dim, weight_rows.dtype)
        scalars = row_rule.scalars(step=int(self.step), **self._hyper())
        compact = np.arange(len(rows), dtype=np.int64)
        run_rows(row_rule, weight_rows, compact, values, state, scalars)
        weight.index_copy_(0, index, torch.from_numpy(weight_rows).to(weight.device, weight.dtype))
        for name, buffer in buffers.items():
            updated = torch.from_numpy(state_rows[name]).to(buffer.device, buffer.dtype)  # type: ignore[union-attr]
            buffer.index_copy_(0, index, updated)  # type: ignore[union-attr]
