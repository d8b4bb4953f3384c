"""Prompt expansion, the model half: a causal language model continues a prompt with terms.

Any causal LM that `transformers` loads works (a hub id such as a GPT-2 prompt model, or a
folder). Generation is restricted by `VocabularyConstraint`, so the model can only write whole
vocabulary terms separated by commas; `prompts.expansion.filter_to_vocabulary` then checks the
decoded text once more. Sampling draws from a private `torch.Generator` seeded per call, so the
same prompt, seed and model give the same terms, whatever else runs in the process.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from engine.demo_lm import ensure_demo_lm, is_demo_lm
from engine.errors import ModelLoadError
from prompts.expansion import (
    DEFAULT_MAX_TERMS,
    ExpansionExample,
    ExpansionResult,
    build_fewshot_prefix,
    filter_to_vocabulary,
    join_expansion,
    load_expansion_examples,
    load_expansion_vocabulary,
    terms_in_text,
)

DEFAULT_EXPANSION_MODEL = "Gustavosta/MagicPrompt-Stable-Diffusion"
DEMO_MODEL_NAME = "demo"  # asks for the built-in demo LM by name
HUB_CHECK_TIMEOUT_S = 3.0
DEFAULT_MAX_NEW_TOKENS = 48
DEFAULT_MIN_TERMS = 3
MAX_SEED = 2**63 - 1

_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


class ExpansionModelError(ModelLoadError):
    """The expansion model cannot be found, reached or used."""


# ---------------------------------------------------------------------------------------------
# Which model: a cached or reachable hub model, else the demo LM
# ---------------------------------------------------------------------------------------------


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) switches the hub off."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(
        flag.strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags
    )


def is_cached_on_hub_cache(model_id: str) -> bool:
    """True when the local Hugging Face cache holds the config and weights of `model_id`."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        try:
            return isinstance(try_to_load_from_cache(model_id, filename), str)
        except ValueError:  # not a valid repo id
            return False

    return cached("config.json") and any(cached(name) for name in _WEIGHT_FILES)


def check_hub_model(
    model_id: str, *, timeout: float = HUB_CHECK_TIMEOUT_S, endpoint: str | None = None
) -> None:
    """Ask the hub, within `timeout` seconds and without retries, whether `model_id` exists.

    Raises ExpansionModelError when the hub is unreachable or has no such model.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    url = hf_hub_url(model_id, "config.json", endpoint=endpoint)
    try:
        get_hf_file_metadata(url, timeout=timeout, endpoint=endpoint)
    except HfHubHTTPError as exc:
        raise ExpansionModelError(
            f"The Hugging Face hub has no usable model {model_id!r} ({exc.__class__.__name__})."
        ) from exc
    except Exception as exc:  # connection refused, DNS failure, timeout: all mean unreachable
        raise ExpansionModelError(
            f"The expansion model {model_id!r} is not in the local cache and the Hugging Face "
            "hub is unreachable."
        ) from exc


def resolve_expansion_model(
    cache_dir: str | os.PathLike[str],
    model_id: str = DEFAULT_EXPANSION_MODEL,
    *,
    timeout: float = HUB_CHECK_TIMEOUT_S,
    endpoint: str | None = None,
) -> tuple[str, bool]:
    """Pick the expansion model: `(model_ref, is_demo)`.

    A local folder or a hub id already in the Hugging Face cache is used as is. Otherwise the
    hub is asked (at most `timeout` seconds; skipped when HF_HUB_OFFLINE=1); when it does not
    answer or lacks the model, the demo LM is built in `cache_dir` (the models folder, e.g.
    `ui.settings.models_dir(data_dir)`) and its folder returned.
    `model_id="demo"` asks for the demo LM directly.
    """
    if model_id == DEMO_MODEL_NAME:
        return str(ensure_demo_lm(cache_dir)), True
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        return str(folder), is_demo_lm(folder)
    if not looks_like_hub_id(model_id):
        raise ExpansionModelError(f"There is no model folder at {model_id!r}.")
    if is_cached_on_hub_cache(model_id):
        return model_id, False
    if not hub_offline():
        try:
            check_hub_model(model_id, timeout=timeout, endpoint=endpoint)
        except ExpansionModelError:
            pass
        else:
            return model_id, False
    return str(ensure_demo_lm(cache_dir)), True


# ---------------------------------------------------------------------------------------------
# Loading, cached per model and device
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def load_causal_lm(
    model_ref: str, device: str = "cpu", endpoint: str | None = None
) -> tuple[Any, Any]:
    """Load `(tokenizer, model)` from a folder or hub id, once per process and device.

    A hub id is taken from the local cache first; only when it is missing there is the hub
    asked (briefly) and the model downloaded. Raises ExpansionModelError in one sentence.
    """
    folder = Path(model_ref).expanduser()
    if folder.is_dir():
        return _from_pretrained(str(folder), device)
    if not looks_like_hub_id(model_ref):
        raise ExpansionModelError(f"There is no model folder at {model_ref!r}.")
    try:
        return _from_pretrained(model_ref, device, local_files_only=True)
    except ExpansionModelError as cache_miss:
        if hub_offline():
            raise ExpansionModelError(
                f"The expansion model {model_ref!r} is not in the local cache and the "
                "Hugging Face hub is switched off (HF_HUB_OFFLINE)."
            ) from cache_miss
    check_hub_model(model_ref, endpoint=endpoint)
    return _from_pretrained(model_ref, device)


def _from_pretrained(name: str, device: str, **kwargs: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ExpansionModelError(
            f"Could not load {name!r} as a causal language model: {_first_line(exc)}"
        ) from exc
    return tokenizer, model.to(device).eval()


def looks_like_hub_id(text: str) -> bool:
    """True for text shaped like a hub model id ("name" or "owner/name")."""
    return bool(_HUB_ID_RE.match(text)) and ".." not in text and "--" not in text


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].rstrip(".") + "." if lines else f"{error.__class__.__name__}."


# ---------------------------------------------------------------------------------------------
# Restricting generation to the vocabulary
# ---------------------------------------------------------------------------------------------


@dataclass
class _Node:
    children: dict[int, int] = field(default_factory=dict)
    term: str | None = None  # the term that ends here, if any
    terms_below: set[str] = field(default_factory=set)  # terms ending here or deeper


class TermTrie:
    """Every vocabulary term as token-id paths (with and without a leading space), plus commas."""

    def __init__(self, tokenizer: Any, vocabulary: Sequence[str]) -> None:
        self.vocabulary = tuple(vocabulary)
        self.nodes: list[_Node] = [_Node()]
        for term in self.vocabulary:
            for text in (" " + term, term):
                ids = tokenizer.encode(text, add_special_tokens=False)
                if ids:
                    self._insert(ids, term)
        self.comma_ids = frozenset(_comma_token_ids(tokenizer))
        if not self.comma_ids:
            raise ExpansionModelError("The model's tokenizer has no single token for a comma.")
        self.eos_token_id: int | None = tokenizer.eos_token_id
        self.sub_terms = {term: terms_in_text(term, self.vocabulary) for term in self.vocabulary}
        ids: set[int] = set(self.comma_ids)
        for node in self.nodes:
            ids.update(node.children)
        if self.eos_token_id is not None:
            ids.add(self.eos_token_id)
        self.allowed_token_ids = frozenset(ids)

    def _insert(self, ids: Sequence[int], term: str) -> None:
        index = 0
        self.nodes[0].terms_below.add(term)
        for token in ids:
            node = self.nodes[index]
            if token not in node.children:
                node.children[token] = len(self.nodes)
                self.nodes.append(_Node())
            index = node.children[token]
            self.nodes[index].terms_below.add(term)
        if self.nodes[index].term is None:
            self.nodes[index].term = term


def _comma_token_ids(tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for text in (",", " ,"):
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) == 1 and tokenizer.decode(encoded).strip() == ",":
            ids.add(encoded[0])
    return ids


class VocabularyConstraint(LogitsProcessor):
    """Lets the model write only `term, term, ...` with terms from the vocabulary, then EOS.

    Works as a transformers LogitsProcessor (also with `model.generate`): every token that
    would leave the grammar gets a score of -inf. Terms already in the prompt, and terms
    already written, are not offered again. The end (EOS) is allowed once `min_terms` terms
    are written and forced after `max_terms`.
    """

    def __init__(
        self,
        trie: TermTrie,
        prompt_length: int,
        *,
        blocked_terms: Collection[str] = (),
        min_terms: int = 1,
        max_terms: int = DEFAULT_MAX_TERMS,
    ) -> None:
        self.trie = trie
        self.prompt_length = prompt_length
        self.blocked_terms = frozenset(blocked_terms)
        self.min_terms = min_terms
        self.max_terms = max_terms

    @property
    def allowed_token_ids(self) -> frozenset[int]:
        """Every token id this constraint can ever allow."""
        return self.trie.allowed_token_ids

    def allowed_next(self, generated: Sequence[int]) -> set[int]:
        """The token ids allowed after `generated` (the ids written so far, prompt excluded).

        An empty set means the expansion is finished.
        """
        trie, nodes = self.trie, self.trie.nodes
        blocked = set(self.blocked_terms)
        written = 0
        index = 0
        for token in generated:
            node = nodes[index]
            if token == trie.eos_token_id:
                return set()
            if token in trie.comma_ids and node.term is not None and index != 0:
                written += 1
                blocked |= trie.sub_terms[node.term]
                index = 0
            elif token in node.children:
                index = node.children[token]
            else:  # written outside this constraint: end here
                return {trie.eos_token_id} if trie.eos_token_id is not None else set()
        node = nodes[index]
        allowed = {
            token
            for token, child in node.children.items()
            if not nodes[child].terms_below <= blocked
        }
        if index != 0 and node.term is not None and node.term not in blocked:
            if written + 1 < self.max_terms:
                allowed |= trie.comma_ids
            if written + 1 >= self.min_terms and trie.eos_token_id is not None:
                allowed.add(trie.eos_token_id)
        if written >= self.max_terms:
            allowed = set()
        return allowed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        mask = torch.full_like(scores, float("-inf"))
        vocab_size = scores.shape[-1]
        for row in range(input_ids.shape[0]):
            generated = input_ids[row, self.prompt_length :].tolist()
            allowed = [token for token in self.allowed_next(generated) if token < vocab_size]
            if not allowed and self.trie.eos_token_id is not None:
                allowed = [self.trie.eos_token_id]
            if allowed:
                mask[row, allowed] = 0.0
        return scores + mask


# ---------------------------------------------------------------------------------------------
# The expander
# ---------------------------------------------------------------------------------------------


class PromptExpander:
    """Continues prompts with vocabulary terms using one causal LM (loaded on first use)."""

    def __init__(
        self,
        model_id_or_path: str,
        device: str = "cpu",
        *,
        vocabulary: Sequence[str] | None = None,
        examples: Sequence[ExpansionExample] | None = None,
        hub_endpoint: str | None = None,
    ) -> None:
        self.model_ref = str(model_id_or_path)
        self.device = device
        self.vocabulary = tuple(vocabulary) if vocabulary is not None else None
        self.examples = tuple(examples) if examples is not None else None
        self.hub_endpoint = hub_endpoint
        self._trie: TermTrie | None = None

    @property
    def is_demo(self) -> bool:
        """True when the model is the built-in demo LM (random weights)."""
        return is_demo_lm(Path(self.model_ref).expanduser())

    def load(self) -> tuple[Any, Any]:
        """Load (or fetch from the cache) the tokenizer and model; returns both."""
        tokenizer, model = load_causal_lm(self.model_ref, self.device, self.hub_endpoint)
        if self.vocabulary is None:
            self.vocabulary = load_expansion_vocabulary()
        if self.examples is None:
            self.examples = load_expansion_examples(vocabulary=self.vocabulary)
        if self._trie is None:
            self._trie = TermTrie(tokenizer, self.vocabulary)
        return tokenizer, model

    def constraint_for(
        self,
        prompt: str,
        prompt_length: int,
        *,
        min_terms: int = DEFAULT_MIN_TERMS,
        max_terms: int = DEFAULT_MAX_TERMS,
    ) -> VocabularyConstraint:
        """The vocabulary constraint for one prompt (its own terms are not offered again)."""
        self.load()
        assert self._trie is not None and self.vocabulary is not None
        return VocabularyConstraint(
            self._trie,
            prompt_length,
            blocked_terms=terms_in_text(prompt, self.vocabulary),
            min_terms=min_terms,
            max_terms=max_terms,
        )

    def generate_ids(
        self,
        prompt: str,
        seed: int,
        *,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        max_terms: int = DEFAULT_MAX_TERMS,
        min_terms: int | None = None,
        use_examples: bool = True,
        temperature: float = 1.0,
        top_k: int = 50,
        top_p: float = 0.95,
    ) -> list[int]:
        """The raw token ids the model writes after the prompt (EOS not included)."""
        # 1. Check inputs.
        if not prompt.strip():
            raise ValueError("Enter a prompt to expand.")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"The seed must be a whole number from 0 to {MAX_SEED}.")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}.")
        if max_terms < 0:
            raise ValueError(f"max_terms must be 0 or more, got {max_terms}.")
        min_terms = min(DEFAULT_MIN_TERMS, max_terms) if min_terms is None else min_terms
        if not 0 <= min_terms <= max_terms:
            raise ValueError(f"min_terms must be between 0 and max_terms ({max_terms}).")
        if temperature <= 0 or top_k < 1 or not 0 < top_p <= 1:
            raise ValueError("temperature must be above 0, top_k at least 1, top_p in (0, 1].")
        if max_terms == 0:
            return []

        # 2. Encode the few-shot prefix and the prompt, keeping room for the new tokens.
        tokenizer, model = self.load()
        examples = self.examples if use_examples and self.examples else ()
        text = build_fewshot_prefix(examples, prompt)
        input_ids = tokenizer(text, return_tensors="pt").input_ids
        context = _context_length(model)
        if context is not None:
            input_ids = input_ids[:, -max(1, context - max_new_tokens) :]
        input_ids = input_ids.to(self.device)

        # 3. The restriction first, then the usual sampling warpers.
        constraint = self.constraint_for(
            prompt, input_ids.shape[1], min_terms=min_terms, max_terms=max_terms
        )
        processors = LogitsProcessorList(
            [
                constraint,
                TemperatureLogitsWarper(temperature),
                TopKLogitsWarper(top_k),
                TopPLogitsWarper(top_p),
            ]
        )

        # 4. Sample token by token from a generator that belongs to this call alone.
        generator = torch.Generator(device="cpu").manual_seed(seed)
        generated: list[int] = []
        step_input, past = input_ids, None
        with torch.inference_mode():
            for _ in range(max_new_tokens):
                if not constraint.allowed_next(generated):
                    break
                output = model(input_ids=step_input, past_key_values=past, use_cache=True)
                scores = processors(input_ids, output.logits[:, -1, :].float())
                probs = torch.softmax(scores, dim=-1).cpu()
                token = int(torch.multinomial(probs[0], 1, generator=generator))
                if token == constraint.trie.eos_token_id:
                    break
                generated.append(token)
                next_ids = torch.tensor([[token]], device=self.device)
                input_ids = torch.cat([input_ids, next_ids], dim=1)
                past = getattr(output, "past_key_values", None)
                step_input = next_ids if past is not None else input_ids
        return generated

    def expand(
        self,
        prompt: str,
        seed: int,
        *,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        max_terms: int = DEFAULT_MAX_TERMS,
        min_terms: int | None = None,
        use_examples: bool = True,
        temperature: float = 1.0,
        top_k: int = 50,
        top_p: float = 0.95,
    ) -> ExpansionResult:
        """Continue `prompt` with up to `max_terms` new vocabulary terms, appended visibly.

        The same prompt, seed, model and settings always give the same result.
        """
        ids = self.generate_ids(
            prompt,
            seed,
            max_new_tokens=max_new_tokens,
            max_terms=max_terms,
            min_terms=min_terms,
            use_examples=use_examples,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
        )
        tokenizer, _ = self.load()
        assert self.vocabulary is not None
        text = tokenizer.decode(ids, skip_special_tokens=True)
        added = filter_to_vocabulary(text, self.vocabulary, prompt, max_terms=max_terms)
        return ExpansionResult(
            original=prompt,
            added_terms=added,
            final=join_expansion(prompt, added),
            seed=seed,
            model=self.model_ref,
        )


def _context_length(model: Any) -> int | None:
    config = model.config
    for name in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def expand_prompt(
    prompt: str,
    seed: int,
    cache_dir: str | os.PathLike[str],
    model_id: str = DEFAULT_EXPANSION_MODEL,
    **options: Any,
) -> tuple[ExpansionResult, bool]:
    """Resolve the model (hub or demo), expand `prompt`; returns `(result, is_demo)`."""
    model_ref, is_demo = resolve_expansion_model(cache_dir, model_id)
    return PromptExpander(model_ref).expand(prompt, seed, **options), is_demo
