"""CUDA through cuda-python (`cuda.bindings`): the device, memory, streams and NVRTC kernels.

Every driver call's status is checked (``cuda.check``) and a failure raised as a typed
error naming the call (infer/errors.py).  Nothing here frees device memory in
``__del__``: owners call ``free()``/``close()`` explicitly.  Importing these modules needs
cuda-python; using them needs an NVIDIA driver.
"""
