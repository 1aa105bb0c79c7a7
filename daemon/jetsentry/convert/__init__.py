"""Model conversions for the engines: static INT8 quantization (QDQ) and FP16, from an FP32 ONNX.

`jetsentry models quantize` and `jetsentry models fp16` (convert/cli.py); docs/QUANTIZATION.md
describes what the files hold and why.
"""
