"""The plumbing of an optimizer that wraps another and shares its state."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar

import torch

from ..errors import ConfigError

__all__ = ["OptimizerWrapper"]

# The hook tables torch.optim.Optimizer.__init__ sets; they hold callables, so never pickled.
_HOOKS = (
    "_optimizer_step_pre_hooks",
    "_optimizer_step_post_hooks",
    "_optimizer_state_dict_pre_hooks",
    "_optimizer_state_dict_post_hooks",
    "_optimizer_load_state_dict_pre_hooks",
    "_optimizer_load_state_dict_post_hooks",
)


class OptimizerWrapper(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` whose ``param_groups``, ``state`` and ``defaults`` are the
    wrapped optimizer's (so LR schedulers that edit them edit the real ones).

    Subclasses call :meth:`_wrap` in ``__init__`` instead of ``Optimizer.__init__``, and name in
    ``_transient`` the attributes that are rebuilt rather than pickled.
    """

    _transient: ClassVar[tuple[str, ...]] = ()
    optimizer: torch.optim.Optimizer

    def _wrap(self, optimizer: torch.optim.Optimizer, kind: type, once: str = "") -> None:
        """Share ``optimizer``'s state; it must not be a ``kind`` (``once`` ends that error)."""
        name = kind.__name__
        if isinstance(optimizer, kind):
            raise ConfigError(
                f"The 'optimizer' parameter of {name} must not itself be a {name}: wrap the base "
                f"optimizer once{once}."
            )
        # torch.optim.Optimizer.__init__'s attributes, minus the parameter groups.
        for k in _HOOKS:
            setattr(self, k, OrderedDict())
        self._patch_step_function()
        self.optimizer = optimizer

    # Properties with setters, so torch code that assigns these writes through to the wrapped one.
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.optimizer.param_groups = value

    @property
    def state(self) -> Any:
        return self.optimizer.state

    @state.setter
    def state(self, value: Any) -> None:
        self.optimizer.state = value

    @property
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self.optimizer.defaults = value

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.__dict__.items()
            if not k.startswith("_optimizer_") and k not in self._transient
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for k in _HOOKS:
            self.__dict__.setdefault(k, OrderedDict())
        self._patch_step_function()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)
