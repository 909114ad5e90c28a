package dev.wush.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;

/**
 * Device memory allocated by the library ({@code cudaMalloc}), freed by {@link #close()} or, as a last resort,
 * when the buffer becomes unreachable.
 */
public final class DeviceBuffer implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    private final long address;
    private final long bytes;
    private final Cleaner.Cleanable cleanable;

    private DeviceBuffer(CudaKernels cuda, long bytes) {
        this.bytes = bytes;
        this.address = cuda.malloc(bytes);
        long ptr = address;
        this.cleanable = CLEANER.register(this, () -> cuda.free(ptr));
    }

    /** {@code bytes} of uninitialized device memory on the current device. */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative buffer size " + bytes);
        }
        return new DeviceBuffer(CudaKernels.require(), bytes);
    }

    /** A device copy of {@code host} (any segment: heap arrays are staged through native memory). */
    public static DeviceBuffer of(MemorySegment host) {
        DeviceBuffer b = allocate(host.byteSize());
        b.upload(host);
        return b;
    }

    /** A device copy of a float array. */
    public static DeviceBuffer of(float[] host) {
        return of(MemorySegment.ofArray(host));
    }

    /** A device copy of a byte array. */
    public static DeviceBuffer of(byte[] host) {
        return of(MemorySegment.ofArray(host));
    }

    public long address() {
        return address;
    }

    public long bytes() {
        return bytes;
    }

    /** Copies {@code host} to the start of this buffer. */
    public void upload(MemorySegment host) {
        if (host.byteSize() > bytes) {
            throw new IllegalArgumentException("upload of " + host.byteSize() + " bytes into a device buffer of " + bytes);
        }
        if (host.byteSize() == 0) {
            return;
        }
        if (host.isNative()) {
            CudaKernels.require().copyToDevice(host, address, host.byteSize());
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(host.byteSize(), 64);
            staging.copyFrom(host);
            CudaKernels.require().copyToDevice(staging, address, host.byteSize());
        }
    }

    /** The first {@code n} floats of this buffer, copied to the host. */
    public float[] downloadFloats(int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(4L * n, 64);
            CudaKernels.require().copyToHost(address, staging, 4L * n);
            return staging.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** The first {@code n} bytes of this buffer, copied to the host. */
    public byte[] downloadBytes(int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(n, 64);
            CudaKernels.require().copyToHost(address, staging, n);
            return staging.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Override
    public void close() {
        cleanable.clean();
    }
}
