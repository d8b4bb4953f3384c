"""Prompt expansion with a causal LM: the demo LM, determinism and vocabulary restriction.

Every test runs the real tiny random GPT-2 (built offline by `ensure_demo_lm`) through real
tokenizers; only the Hugging Face hub is made unreachable (a closed local port).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel, LogitsProcessorList

from engine.demo_lm import DEMO_LM_DIRNAME, DEMO_LM_MARKER, ensure_demo_lm, is_demo_lm
from engine.prompt_expansion import (
    ExpansionModelError,
    PromptExpander,
    TermTrie,
    VocabularyConstraint,
    resolve_expansion_model,
)
from prompts.expansion import join_expansion, load_expansion_vocabulary, terms_in_text

UNREACHABLE_HUB = "http://127.0.0.1:9"  # the discard port: connection refused at once
PROMPT = "a red fox in the snow"


@pytest.fixture(scope="module")
def demo_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_demo_lm(tmp_path_factory.mktemp("lm-models"))


@pytest.fixture(scope="module")
def expander(demo_lm: Path) -> PromptExpander:
    return PromptExpander(str(demo_lm))


@pytest.fixture(scope="module")
def vocabulary() -> tuple[str, ...]:
    return load_expansion_vocabulary()


@pytest.fixture
def hub_online_but_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch HF_HUB_OFFLINE off, so the code really asks the (unreachable) hub."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


# --- the demo LM -------------------------------------------------------------------------------


def test_demo_lm_round_trips_through_from_pretrained(demo_lm: Path):
    assert demo_lm.name == DEMO_LM_DIRNAME
    assert is_demo_lm(demo_lm)
    tokenizer = AutoTokenizer.from_pretrained(demo_lm)
    model = AutoModelForCausalLM.from_pretrained(demo_lm)
    assert isinstance(model, GPT2LMHeadModel)
    assert (model.config.n_layer, model.config.n_embd, model.config.n_head) == (2, 64, 2)
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.eos_token_id == model.config.eos_token_id
    text = " golden hour, dramatic lighting"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    # Trained on the vocabulary, the tokenizer keeps common terms short.
    assert len(tokenizer.encode(" golden hour")) <= 3


def test_demo_lm_is_byte_identical_when_built_again(demo_lm: Path, tmp_path: Path):
    again = ensure_demo_lm(tmp_path)
    for name in ("model.safetensors", "tokenizer.json", "config.json", DEMO_LM_MARKER):
        assert (again / name).read_bytes() == (demo_lm / name).read_bytes(), name


def test_demo_lm_build_leaves_no_staging_folder_and_is_reused(tmp_path: Path):
    folder = ensure_demo_lm(tmp_path)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEMO_LM_DIRNAME]
    assert ensure_demo_lm(tmp_path) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_demo_lm_from_another_recipe_is_rebuilt(tmp_path: Path):
    folder = ensure_demo_lm(tmp_path)
    marker = json.loads((folder / DEMO_LM_MARKER).read_text())
    marker["recipe"]["version"] = -1
    (folder / DEMO_LM_MARKER).write_text(json.dumps(marker))
    (folder / "model.safetensors").write_bytes(b"half written")
    rebuilt = ensure_demo_lm(tmp_path)
    assert rebuilt == folder
    assert json.loads((folder / DEMO_LM_MARKER).read_text())["recipe"]["version"] != -1
    assert AutoModelForCausalLM.from_pretrained(folder) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEMO_LM_DIRNAME]


# --- determinism -------------------------------------------------------------------------------


def test_same_prompt_and_seed_give_the_same_expansion(expander: PromptExpander, demo_lm: Path):
    first = expander.expand(PROMPT, seed=3)
    torch.manual_seed(999)  # the global RNG plays no part
    second = expander.expand(PROMPT, seed=3)
    fresh = PromptExpander(str(demo_lm)).expand(PROMPT, seed=3)
    assert first == second == fresh
    assert first.added_terms
    assert first.seed == 3


def test_different_seeds_give_different_expansions(expander: PromptExpander):
    first = expander.expand(PROMPT, seed=0).added_terms
    assert any(expander.expand(PROMPT, seed=seed).added_terms != first for seed in range(1, 5))


def test_examples_change_what_the_model_reads(expander: PromptExpander):
    with_examples = [expander.expand(PROMPT, seed=s).added_terms for s in range(2)]
    without = [expander.expand(PROMPT, seed=s, use_examples=False).added_terms for s in range(2)]
    assert with_examples != without


# --- what the expansion adds -------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 123456789])
def test_added_terms_are_new_vocabulary_terms_appended_visibly(
    expander: PromptExpander, vocabulary: tuple[str, ...], seed: int
):
    prompt = "Golden hour portrait of a fox, moody, oil painting"
    result = expander.expand(prompt, seed=seed)
    in_prompt = terms_in_text(prompt, vocabulary)
    assert 3 <= len(result.added_terms) <= 6
    assert set(result.added_terms) <= set(vocabulary)
    assert not set(result.added_terms) & in_prompt
    assert len(set(result.added_terms)) == len(result.added_terms)
    assert result.original == prompt
    assert result.final.startswith(prompt)
    assert result.final == join_expansion(prompt, result.added_terms)
    assert result.final == f"{prompt}, {result.added_text}"


def test_max_terms_bounds_the_expansion(expander: PromptExpander):
    for seed in range(3):
        assert len(expander.expand(PROMPT, seed=seed, max_terms=2).added_terms) <= 2
    nothing = expander.expand(PROMPT, seed=0, max_terms=0)
    assert nothing.added_terms == [] and nothing.final == PROMPT


def test_a_tight_token_budget_still_yields_only_whole_terms(
    expander: PromptExpander, vocabulary: tuple[str, ...]
):
    result = expander.expand(PROMPT, seed=5, max_new_tokens=3)
    assert set(result.added_terms) <= set(vocabulary)
    assert result.final == join_expansion(PROMPT, result.added_terms)


@pytest.mark.parametrize(
    ("prompt", "seed", "options", "fragment"),
    [
        ("   ", 1, {}, "Enter a prompt"),
        (PROMPT, -1, {}, "seed"),
        (PROMPT, True, {}, "seed"),
        (PROMPT, 1, {"max_new_tokens": 0}, "max_new_tokens"),
        (PROMPT, 1, {"max_terms": 2, "min_terms": 3}, "min_terms"),
        (PROMPT, 1, {"top_p": 0}, "top_p"),
    ],
)
def test_bad_settings_are_refused_in_one_sentence(
    expander: PromptExpander, prompt, seed, options, fragment
):
    with pytest.raises(ValueError, match=fragment):
        expander.expand(prompt, seed=seed, **options)


# --- the restriction itself --------------------------------------------------------------------


def test_generated_ids_stay_inside_the_allowed_tokens(expander: PromptExpander, vocabulary):
    tokenizer, _ = expander.load()
    constraint = expander.constraint_for(PROMPT, prompt_length=0)
    for seed in range(4):
        ids = expander.generate_ids(PROMPT, seed=seed)
        assert ids
        assert set(ids) <= constraint.allowed_token_ids
        # Before any post-filter, the raw text is already "term, term, ..." from the vocabulary.
        pieces = [piece.strip() for piece in tokenizer.decode(ids).split(",")]
        assert pieces and all(piece in vocabulary for piece in pieces if piece), pieces


def test_constraint_masks_every_other_token(expander: PromptExpander):
    tokenizer, model = expander.load()
    constraint = expander.constraint_for(PROMPT, prompt_length=0)
    scores = torch.zeros(1, model.config.vocab_size)
    masked = constraint(torch.zeros(1, 0, dtype=torch.long), scores)
    finite = set(torch.isfinite(masked[0]).nonzero().flatten().tolist())
    assert finite == constraint.allowed_next([])
    assert 0 < len(finite) < model.config.vocab_size
    # At the start only a term may begin: no comma, no end.
    assert not finite & constraint.trie.comma_ids
    assert tokenizer.eos_token_id not in finite


def test_constraint_walks_term_comma_term_and_never_repeats(expander: PromptExpander):
    tokenizer, _ = expander.load()
    trie = TermTrie(tokenizer, ["moody", "golden hour", "golden", "oil painting"])
    constraint = VocabularyConstraint(trie, 0, min_terms=2, max_terms=3)
    moody = tokenizer.encode(" moody")
    comma = tokenizer.encode(",")
    assert set(moody) <= trie.allowed_token_ids
    after_moody = constraint.allowed_next(moody)
    assert set(comma) <= after_moody  # the term is complete: a comma may follow
    assert tokenizer.eos_token_id not in after_moody  # but one term is below min_terms
    second = constraint.allowed_next(moody + comma)
    assert moody[0] not in second  # "moody" is written; it is not offered again
    golden = tokenizer.encode(" golden")
    golden_hour = tokenizer.encode(" golden hour")
    done = moody + comma + golden_hour
    assert tokenizer.eos_token_id in constraint.allowed_next(done)
    after_two = constraint.allowed_next(done + comma)
    # "golden" lies inside "golden hour", so it is blocked too; only "oil painting" remains.
    assert golden[0] not in after_two or trie.nodes[0].children.get(golden[0]) is None
    assert after_two == {tokenizer.encode(" oil painting")[0], tokenizer.encode("oil painting")[0]}


def test_constraint_blocks_terms_already_in_the_prompt(expander: PromptExpander):
    tokenizer, _ = expander.load()
    trie = TermTrie(tokenizer, ["moody", "golden hour"])
    constraint = VocabularyConstraint(trie, 0, blocked_terms={"moody"})
    assert constraint.allowed_next([]) == {
        tokenizer.encode(" golden hour")[0],
        tokenizer.encode("golden hour")[0],
    }


def test_constraint_works_inside_transformers_generate(expander: PromptExpander):
    tokenizer, model = expander.load()
    inputs = tokenizer(f"{PROMPT},", return_tensors="pt")
    length = inputs.input_ids.shape[1]
    constraint = expander.constraint_for(PROMPT, prompt_length=length)
    restricted = model.generate(
        **inputs,
        logits_processor=LogitsProcessorList([constraint]),
        max_new_tokens=16,
        do_sample=False,
        pad_token_id=tokenizer.eos_token_id,
    )[0, length:].tolist()
    assert restricted and set(restricted) <= constraint.allowed_token_ids
    # Left alone, the random LM's favourite next tokens include ones the constraint forbids.
    with torch.inference_mode():
        favourites = model(**inputs).logits[0, -1].topk(20).indices.tolist()
    assert not set(favourites) <= constraint.allowed_token_ids


@pytest.fixture(scope="module")
def tiny_llama(demo_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another architecture (rotary positions, grouped KV heads) with the demo tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(demo_lm)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("model", ["demo_lm", "tiny_llama"])
def test_sampling_loop_matches_transformers_generate(model: str, request, vocabulary):
    """With top_k=1 the seeded loop is greedy, so it must write what `model.generate` writes."""
    from prompts.expansion import build_fewshot_prefix

    expander = PromptExpander(str(request.getfixturevalue(model)))
    tokenizer, lm = expander.load()
    ours = expander.generate_ids(PROMPT, seed=0, top_k=1)
    inputs = tokenizer(build_fewshot_prefix(expander.examples, PROMPT), return_tensors="pt")
    length = inputs.input_ids.shape[1]
    reference = lm.generate(
        **inputs,
        logits_processor=LogitsProcessorList([expander.constraint_for(PROMPT, length)]),
        max_new_tokens=48,
        do_sample=False,
        pad_token_id=tokenizer.eos_token_id,
    )[0, length:].tolist()
    assert ours == [token for token in reference if token != tokenizer.eos_token_id]
    result = expander.expand(PROMPT, seed=4)
    assert result.added_terms and set(result.added_terms) <= set(vocabulary)


# --- choosing and loading models ---------------------------------------------------------------


def test_hub_offline_resolves_to_the_demo_lm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref, is_demo = resolve_expansion_model(tmp_path, "prompt-atelier-tests/no-such-model")
    assert is_demo and Path(ref) == tmp_path / DEMO_LM_DIRNAME and is_demo_lm(ref)


def test_unreachable_hub_falls_back_to_the_demo_lm_quickly(
    tmp_path: Path, demo_lm: Path, hub_online_but_unreachable: None
):
    ensure_demo_lm(tmp_path)
    started = time.monotonic()
    ref, is_demo = resolve_expansion_model(
        tmp_path, "prompt-atelier-tests/no-such-model", endpoint=UNREACHABLE_HUB
    )
    assert is_demo and Path(ref) == tmp_path / DEMO_LM_DIRNAME
    assert time.monotonic() - started < 3.5


def test_a_folder_resolves_to_itself(demo_lm: Path):
    assert resolve_expansion_model(demo_lm.parent, str(demo_lm)) == (str(demo_lm), True)


def test_demo_by_name(demo_lm: Path):
    assert resolve_expansion_model(demo_lm.parent, "demo") == (str(demo_lm), True)


def test_unreachable_hub_is_one_clear_sentence(hub_online_but_unreachable: None):
    expander = PromptExpander("prompt-atelier-tests/no-such-model", hub_endpoint=UNREACHABLE_HUB)
    started = time.monotonic()
    with pytest.raises(ExpansionModelError) as caught:
        expander.expand(PROMPT, seed=1)
    message = str(caught.value)
    assert message == (
        "The expansion model 'prompt-atelier-tests/no-such-model' is not in the local cache "
        "and the Hugging Face hub is unreachable."
    )
    assert time.monotonic() - started < 5


def test_hub_switched_off_is_one_clear_sentence(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ExpansionModelError, match=r"switched off \(HF_HUB_OFFLINE\)\.$"):
        PromptExpander("prompt-atelier-tests/no-such-model").load()


def test_missing_folder_is_one_clear_sentence(tmp_path: Path):
    with pytest.raises(ExpansionModelError, match="There is no model folder at"):
        PromptExpander(str(tmp_path / "nope" / "..x")).load()
    with pytest.raises(ExpansionModelError, match="There is no model folder at"):
        resolve_expansion_model(tmp_path, "./not/here")


def test_a_folder_that_is_not_a_model_is_one_clear_sentence(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ExpansionModelError, match="as a causal language model"):
        PromptExpander(str(tmp_path)).load()


# --- the command line: python app.py expand ----------------------------------------------------


def test_cli_expand_prints_original_added_final_and_names_the_demo_lm(tmp_path: Path, capsys):
    from ui.cli.main import main

    argv = ["--data-dir", str(tmp_path), "expand", "a red fox", "--seed", "3"]
    assert main(argv) == 0
    first = capsys.readouterr()
    lines = dict(line.split(":", 1) for line in first.out.splitlines())
    assert "demo LM" in lines["model"] and "demo LM" in first.err
    assert lines["seed"].strip() == "3"
    assert lines["original"].strip() == "a red fox"
    added = lines["added"].strip()
    assert lines["final"].strip() == f"a red fox, {added}"
    assert (tmp_path / "models" / DEMO_LM_DIRNAME / DEMO_LM_MARKER).is_file()
    assert main(argv) == 0
    assert capsys.readouterr().out == first.out


def test_cli_expand_json_with_a_model_folder(demo_lm: Path, tmp_path: Path, capsys, vocabulary):
    from ui.cli.main import main

    argv = ["--data-dir", str(tmp_path), "expand", "a red fox", "--seed", "11"]
    argv += ["--model", str(demo_lm), "--max-terms", "2", "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["is_demo"] is True and record["seed"] == 11
    assert 1 <= len(record["added_terms"]) <= 2
    assert set(record["added_terms"]) <= set(vocabulary)
    assert record["final"] == join_expansion("a red fox", record["added_terms"])
    assert not (tmp_path / "models").exists()  # a given folder needs no demo build


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--max-terms", "99"], "--max-terms must be between 0 and 32."),
        (["--model", "./not/here"], "There is no model folder at './not/here'."),
        (["--seed", "-4"], "--seed must be 0 or more."),
    ],
)
def test_cli_expand_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, extra, fragment):
    from ui.cli.main import main

    assert main(["--data-dir", str(tmp_path), "expand", "a red fox", *extra]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {fragment}\n"
