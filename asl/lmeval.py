"""This harness as an lm-evaluation-harness model: any method through the engine, on any lm-eval task.

Registered with lm-eval's model registry as ``asl-bench`` when this module is imported (lm-eval 0.4.13
discovers models only through imports, not package entry points), so::

    import asl.lmeval, lm_eval
    lm_eval.simple_evaluate(model="asl-bench", model_args="model=smollm2_135m,method=snapkv,kv_budget=256",
                            tasks=[...])

and from the command line ``scripts/lm_eval.py`` (lm-eval's own CLI with this module imported first):
``python scripts/lm_eval.py run --model asl-bench --model_args method=asl,kv_budget=2048 --tasks ...``.

Generation follows lm-eval's own Hugging Face model (``hf``) step for step: the context is encoded by the
tokenizer as ``hf`` encodes it (left-truncated to the model's length minus ``max_gen_toks``), decoding
is greedy, the continuation is decoded without special tokens and cut at the first stop sequence (the
EOS text included). With ``method=fullkv`` the generations equal ``hf``'s (tests/test_lmeval.py).
Log-likelihood requests need every position's logits, which the engine does not compute (it runs the LM
head on the last position only): they stop with a one-line error.
"""

from __future__ import annotations

from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text

#: model_args that configure the engine or the model (every other key is a method key, e.g. kv_budget)
ENGINE_ARGS = (
    "model",
    "pretrained",
    "method",
    "device",
    "dtype",
    "decode_mode",
    "max_gen_toks",
    "add_bos_token",
)


def _parse_value(value: Any) -> Any:
    """lm-eval passes model_args as strings: 'null' -> None, ints and floats as numbers."""
    if not isinstance(value, str):
        return value
    lowered = value.strip().lower()
    if lowered in ("null", "none"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


@register_model("asl-bench", "asl_bench")
class ASLBenchLM(LM):
    """An lm-eval LM whose generations run through the engine under a harness method."""

    def __init__(
        self,
        model: str = "smollm2_135m",
        method: str = "fullkv",
        pretrained: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        decode_mode: str | None = None,
        max_gen_toks: int = 256,
        add_bos_token: bool | None = None,
        batch_size: Any = 1,
        max_batch_size: Any = None,
        **method_keys: Any,
    ):
        super().__init__()
        import torch

        from asl import build_method, load_model

        if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
            device = None  # lm-eval's CLI passes cuda by default; None = cuda when available, else cpu

        self.model, self.tokenizer = load_model(pretrained or model, device=device, dtype=dtype)
        if self.tokenizer is None:
            raise ValueError(f"asl-bench: model {pretrained or model!r} has no tokenizer")
        overrides = {key: _parse_value(value) for key, value in method_keys.items()}
        try:
            self.method = build_method(method, self.model.config.num_hidden_layers, **overrides)
        except ValueError as exc:
            raise ValueError(f"asl-bench: {exc}") from None
        self.decode_mode = decode_mode
        self.max_gen_toks = int(max_gen_toks)
        self.add_bos_token = _parse_value(add_bos_token)
        self.max_length = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self.results: list[Any] = []  # the engine's GenerationResult of every request (timings, KV lengths)

    # -- lm-eval's tokenizer hooks (chat templates) ---------------------------------------------------
    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "tokenizer")).replace("/", "__")

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        return self.tokenizer.apply_chat_template(
            chat_history, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    # -- requests --------------------------------------------------------------------------------------
    def encode(self, context: str, max_context: int) -> list[int]:
        """The context's ids as lm-eval's ``hf`` model encodes them, left-truncated to ``max_context``."""
        kwargs = {} if self.add_bos_token is None else {"add_special_tokens": bool(self.add_bos_token)}
        bos = getattr(self.tokenizer, "bos_token", None)
        if not kwargs and bos and context.startswith(bos):
            kwargs = {"add_special_tokens": False}
        ids = self.tokenizer.encode(context, **kwargs)
        return ids[-max_context:]

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        from asl import generate

        eos = self.tokenizer.decode([self.tokenizer.eos_token_id], skip_special_tokens=False)
        out = []
        for request in requests:
            context, gen_kwargs = request.args
            kwargs = normalize_gen_kwargs(dict(gen_kwargs), self.max_gen_toks)
            if kwargs.get("do_sample"):
                raise ValueError(
                    "asl-bench: the engine decodes greedily; this task asks for sampling (do_sample)"
                )
            until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
            max_gen_toks = int(kwargs.pop("max_gen_toks"))
            ids = self.encode(context, self.max_length - max_gen_toks)
            result = generate(
                self.model,
                self.tokenizer,
                ids,
                self.method,
                max_new_tokens=max_gen_toks,
                decode_mode=self.decode_mode,
            )
            self.results.append(result)
            text = postprocess_generated_text(result.text, stop=until, think_end_token=None)
            out.append(text)
            self.cache_hook.add_partial("generate_until", (context, gen_kwargs), text)
        return out

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError(
            "asl-bench: loglikelihood needs every position's logits; the engine computes the last position's "
            "only (use a generate_until task)"
        )

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError(
            "asl-bench: loglikelihood_rolling needs every position's logits; the engine computes the last "
            "position's only (use a generate_until task)"
        )
