package dev.wush.kernel.cuda;

/** A CUDA call failed, or no CUDA device or library is there; the message names the call and the CUDA error. */
public final class CudaException extends RuntimeException {

    private final int status;

    public CudaException(String message) {
        this(message, 0);
    }

    public CudaException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** The cudaError_t (or wush status) of the failed call; 0 when no call failed (library or device missing). */
    public int status() {
        return status;
    }
}
