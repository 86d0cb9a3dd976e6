"""Many networks of one shape as one module: each layer's weights stacked along a member axis.

Batched trials (issue 16) train P configurations that share an architecture side by side:
their hyperparameters differ (learning rate, weight decay, dropout, schedule, ...), their
shapes do not. :func:`stack_networks` turns P such networks into one module of the same
structure in which every layer holds the P members' weights stacked along a first axis and
computes all of them in one batched operation (a linear layer is one ``torch.baddbmm``), so a
training step of P small networks costs about one step's per-operation overhead instead of P.
Unlike ``torch.func.vmap`` over stacked parameters, which adds its own overhead to every
operation (measured 2.4-2.9x for 8-16 members on a 2-core CPU, where overhead dominates),
the stacked layers are plain torch operations on 3-d tensors.

The stacked module takes ``(batch, features)`` and returns ``(P, batch, outputs)``: member
``i``'s output is what network ``i`` returns for the same rows, up to floating-point rounding.
The conversion walks the module tree and replaces every layer that has weights or behaves per
member (linear, layer and batch norm, dropout) by its stacked form; layers without state
(activations, identity) and containers (``nn.Sequential``, ``ResidualBlock``, ``DenseBlock``,
``TabularNet``) keep their own ``forward``, which then runs on stacked tensors. A network's
input encoder without trainable weights (``FeatureEncoder`` without an embedding: its
statistics come from the training rows, the same for every member; ``MissingFill``, whose
values come from the preprocessor) runs once and its output is shared. A layer of any other
kind with weights (a numeric embedding, a TabM-style ensemble of
``k`` members: the whole network then) runs through ``torch.func.vmap`` over its stacked
weights (:class:`VmappedModule`): slower per operation, but the same result. Batch norm inside
such a layer cannot be stacked (:func:`stack_networks` raises ``NotStackableError``) and
trains alone.

Member ``i``'s trained weights go back into its own network with :meth:`StackedNetwork.
member_state`: the stacked module keeps every parameter and buffer under the name it has in
the members, with the member axis first.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from automl_nas.nn._missing import MissingFill
from automl_nas.nn._numeric import FeatureEncoder


class NotStackableError(TypeError):
    """A network holds a layer that :func:`stack_networks` cannot stack (it trains alone)."""


def _stacked(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([t.detach() for t in tensors]).clone()


class StackedLinear(nn.Module):
    """P linear layers: ``weight`` (P, out, in), ``bias`` (P, out); input (P, batch, in)."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(_stacked([layer.weight for layer in layers]))
        self.bias = (
            nn.Parameter(_stacked([layer.bias for layer in layers]))
            if layers[0].bias is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # the shared input of the first layer: one matmul for all members
            out = torch.einsum("bi,poi->pbo", x, self.weight)
        else:
            out = torch.bmm(x, self.weight.transpose(1, 2))
        return out if self.bias is None else out + self.bias.unsqueeze(1)


class StackedLayerNorm(nn.Module):
    """P layer norms over the last axis, each with its own affine weights."""

    def __init__(self, layers: Sequence[nn.LayerNorm]) -> None:
        super().__init__()
        first = layers[0]
        if not first.elementwise_affine or first.bias is None:
            raise NotStackableError("only layer norms with weight and bias are stackable")
        self.normalized_shape, self.eps = tuple(first.normalized_shape), first.eps
        self.weight = nn.Parameter(_stacked([layer.weight for layer in layers]))
        self.bias = nn.Parameter(_stacked([layer.bias for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.layer_norm(x, self.normalized_shape, eps=self.eps)
        return out * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)


class StackedBatchNorm(nn.Module):
    """P batch norms: per-member batch statistics in training, running statistics in eval.

    The running statistics follow ``nn.BatchNorm1d`` exactly (momentum, unbiased variance);
    each member normalises over its own rows of the shared batch.
    """

    def __init__(self, layers: Sequence[nn.BatchNorm1d]) -> None:
        super().__init__()
        first = layers[0]
        if not (first.affine and first.track_running_stats) or first.momentum is None:
            raise NotStackableError("only affine batch norms with a momentum are stackable")
        self.eps, self.momentum = first.eps, first.momentum
        self.weight = nn.Parameter(_stacked([layer.weight for layer in layers]))
        self.bias = nn.Parameter(_stacked([layer.bias for layer in layers]))
        self.register_buffer("running_mean", _stacked([layer.running_mean for layer in layers]))
        self.register_buffer("running_var", _stacked([layer.running_var for layer in layers]))
        self.register_buffer("num_batches_tracked", _stacked([layer.num_batches_tracked for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise NotStackableError("a stacked batch norm takes (members, batch, features)")
        if self.training:
            mean = x.mean(dim=1)
            var = x.var(dim=1, unbiased=False)
            with torch.no_grad():
                n = x.shape[1]
                unbiased = var * (n / max(n - 1, 1))
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(unbiased.detach().to(self.running_var.dtype), self.momentum)
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean, self.running_var
        out = (x - mean.unsqueeze(1)) * torch.rsqrt(var.unsqueeze(1) + self.eps)
        return out * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)


class StackedDropout(nn.Module):
    """Dropout with each member's own rate (``rate``: a non-persistent (P,) buffer)."""

    def __init__(self, layers: Sequence[nn.Dropout]) -> None:
        super().__init__()
        rates = torch.tensor([float(layer.p) for layer in layers])
        self.register_buffer("rate", rates, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not bool((self.rate > 0).any()):
            return x
        if x.dim() == 2:  # a shared input: each member drops its own units
            x = x.expand(len(self.rate), *x.shape)
        rate = self.rate.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        mask = torch.rand_like(x).ge_(rate).div_(1 - rate)  # 0 or 1 / (1 - rate), in x's dtype
        return x * mask


class _RateDropout(nn.Module):
    """Dropout whose rate is a (non-persistent) buffer, so that it stacks per member."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.register_buffer("rate", torch.tensor(float(p)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * torch.rand_like(x).ge(self.rate).to(x.dtype) / (1 - self.rate)


def _with_rate_dropout(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose dropout layers keep their rate in a buffer."""
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Dropout):  # nn.Dropout or the trainer-seeded Dropout
                setattr(parent, name, _RateDropout(child.p))
    return module


class VmappedModule(nn.Module):
    """P copies of a module the stacked layers do not cover, run by ``torch.func.vmap``.

    The members' parameters and buffers are stacked (``torch.func.stack_module_state``) and
    one template runs them through ``functional_call`` under ``vmap`` (dropout draws different
    masks per member, at each member's own rate). Slower per operation than the stacked
    layers, but it covers any module without batch norm: TabM-style ensembles, numeric
    embeddings with weights. Batch norm is refused: it updates its running statistics in place.
    """

    def __init__(self, layers: Sequence[nn.Module]) -> None:
        super().__init__()
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in layers[0].modules()):
            raise NotStackableError("batch norm inside an ensemble or embedding is not stackable")
        copies = [_with_rate_dropout(layer) for layer in layers]
        params, buffers = torch.func.stack_module_state(copies)
        self._names = {name.replace(".", "__"): name for name in (*params, *buffers)}
        self._persistent = set(layers[0].state_dict())
        for name, value in params.items():
            self.register_parameter(name.replace(".", "__"), nn.Parameter(value.detach()))
        for name, value in buffers.items():
            self.register_buffer(name.replace(".", "__"), value)
        self._template = [copies[0].to("meta")]  # in a list: not a submodule

    def train(self, mode: bool = True) -> VmappedModule:
        super().train(mode)
        self._template[0].train(mode)
        return self

    def member_items(self, index: int) -> dict[str, torch.Tensor]:
        """Member ``index``'s parameters and persistent buffers, named as in the member."""
        items = {**dict(self.named_parameters(recurse=False)), **dict(self.named_buffers(recurse=False))}
        return {
            self._names[key]: value[index].detach().clone()
            for key, value in items.items()
            if self._names[key] in self._persistent
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = {self._names[k]: v for k, v in self.named_parameters(recurse=False)}
        buffers = {self._names[k]: v for k, v in self.named_buffers(recurse=False)}
        template = self._template[0]

        def one(p: dict, b: dict, inputs: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(template, (p, b), (inputs,))

        shared = x.dim() == 2  # the same rows for every member (the network's input)
        return torch.func.vmap(one, in_dims=(0, 0, None if shared else 0), randomness="different")(
            params, buffers, x
        )


class SharedInput(nn.Module):
    """An input encoder without trainable weights, run once for all members.

    Its statistics (buffers) are the same for every member, having been taken from the same
    training rows; the first member's encoder is used and its output broadcast.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


#: Layers without weights or per-member behaviour, kept as they are.
_STATELESS = (nn.Identity, nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.ELU, nn.LeakyReLU, nn.Mish, nn.SELU)


def _stack(layers: Sequence[nn.Module], path: str) -> nn.Module:
    first = layers[0]
    kind = type(first)
    if any(type(layer) is not kind for layer in layers):
        raise NotStackableError(f"{path or 'the network'}: members differ in layer type")
    if kind is nn.Linear:
        shapes = {tuple(layer.weight.shape) for layer in layers}
        if len(shapes) > 1:
            raise NotStackableError(f"{path}: members' linear layers differ in shape {shapes}")
        return StackedLinear(layers)
    if kind is nn.LayerNorm:
        return StackedLayerNorm(layers)
    if kind is nn.BatchNorm1d:
        return StackedBatchNorm(layers)
    if issubclass(kind, nn.Dropout):
        return StackedDropout(layers)
    if kind in _STATELESS:
        return copy.deepcopy(first)
    weightless_encoder = kind is FeatureEncoder and not any(True for _ in first.parameters())
    if kind is MissingFill or weightless_encoder:
        return SharedInput(first)
    if (
        kind is FeatureEncoder  # an embedding with weights
        or getattr(first, "k", 1) != 1  # a TabM-style ensemble: its forward handles members
        or any(True for _ in first.parameters(recurse=False))
        or any(True for _ in first.buffers(recurse=False))
    ):
        return VmappedModule(layers)
    shell = copy.copy(first)  # same class and attributes, children replaced below
    shell._modules = {}
    shell._parameters, shell._buffers = {}, {}
    shell._non_persistent_buffers_set = set()
    for name in first._modules:
        children = [layer._modules[name] for layer in layers]
        if children[0] is None:
            shell._modules[name] = None
            continue
        shell._modules[name] = _stack(children, f"{path}.{name}" if path else name)
    return shell


class StackedNetwork(nn.Module):
    """P networks of one architecture computed as one (see the module docstring).

    Args:
        networks: The members, each already holding its initial weights (and its input
            statistics, if it takes them from data).
    """

    def __init__(self, networks: Sequence[nn.Module]) -> None:
        super().__init__()
        if not networks:
            raise ValueError("no networks to stack")
        self.size = len(networks)
        self.net = _stack(list(networks), "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if out.dim() == 2:  # the network never met a per-member layer
            out = out.expand(self.size, *out.shape)
        return out

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """Member ``index``'s parameters and buffers, named as in its own network.

        Layers shared by all members (the input encoder) are left out: each member's own
        network already holds the same values.
        """
        state: dict[str, torch.Tensor] = {}
        self._collect(self.net, "", index, state)
        return state

    def _collect(self, module: nn.Module, prefix: str, index: int, state: dict) -> None:
        if isinstance(module, SharedInput):
            return
        if isinstance(module, VmappedModule):
            state.update({prefix + k: v for k, v in module.member_items(index).items()})
            return
        persistent = [
            (k, v) for k, v in module._buffers.items()
            if v is not None and k not in module._non_persistent_buffers_set
        ]
        for name, tensor in [*module._parameters.items(), *persistent]:
            if tensor is not None:
                state[prefix + name] = tensor[index].detach().clone()
        for name, child in module._modules.items():
            if child is not None:
                self._collect(child, f"{prefix}{name}.", index, state)

    @torch.no_grad()
    def keep(self, indices: Sequence[int]) -> None:
        """Keep only the members at ``indices`` (in that order); others leave the batch.

        Every stacked parameter becomes a new tensor: an optimizer must be told (see
        :class:`~automl_nas.training.StackedOptimizer`).
        """
        index = torch.tensor(list(indices), dtype=torch.long)
        shared = {id(m) for s in self.net.modules() if isinstance(s, SharedInput) for m in s.modules()}
        for module in self.net.modules():
            if id(module) in shared:
                continue
            for name, param in list(module._parameters.items()):
                if param is not None:
                    module._parameters[name] = nn.Parameter(param.detach()[index.to(param.device)])
            for name, buf in list(module._buffers.items()):
                if buf is not None:
                    module._buffers[name] = buf[index.to(buf.device)]
        self.size = len(index)


def stack_networks(networks: Sequence[nn.Module]) -> StackedNetwork:
    """One :class:`StackedNetwork` of ``networks``; ``NotStackableError`` if one cannot be."""
    return StackedNetwork(networks)
