"""``make gpu-check`` (scripts/gpu_check.py): the paper-scale GPU path checked in one run.

Sections: the CPU part (eager == static decode for every method on a tiny model; the cost model's
predictions for an H200), then on CUDA the tiny models in fp32 and bf16 (static decode as a CUDA graph,
FlashAttention-2 when importable), one end-to-end ``scripts/run.py`` experiment, and the efficiency bench
of the paper models with the floors. Every section writes PASS / FAIL / SKIP lines into one summary.
"""
