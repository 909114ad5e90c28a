/** CUDA kernels for the packed layers, run on PyTorch's device buffers and stream through FFM. */
package dev.wush.kernel.cuda;
