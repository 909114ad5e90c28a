package dev.wush.quant.block;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.wush.nn.ArrayMemory;
import dev.wush.nn.BlockPaths;
import dev.wush.nn.NamedBlock;
import dev.wush.kernel.Fp4Scales;
import dev.wush.kernel.PackedLayer;
import dev.wush.kernel.cuda.CudaKernels;
import dev.wush.kernel.cuda.CudaPackedLayer;
import dev.wush.kernel.cuda.TorchCuda;
import dev.wush.quant.layer.QuantizedLayer;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The quantized replacement of a {@code Linear}: {@code y = q(x_pad · Tᵀ) · Ŵᵀ (+ bias)}. It keeps only
 * the packed layer ({@link PackedLayer}: 4-bit codes, scale bytes, float32 transforms, in native memory)
 * and runs the packed kernels on it: inputs are zero-padded to a multiple of the block size, transformed
 * block by block and quantized per token and group in the layer's format by one fused kernel, then
 * multiplied with the packed weights (W4A4); with activation quantization off the transformed floats are
 * multiplied directly (W4A16).
 *
 * <p>On a GPU: when the input is a PyTorch-engine array on a CUDA device, the layer is copied to that device
 * once ({@link CudaPackedLayer}) and the CUDA kernels run on the arrays' device pointers, on PyTorch's
 * current stream, with no copies of activations. INT4 layers, which have no CUDA kernels, go through the
 * host (with a warning, once).
 */
public final class WushLinear extends NamedBlock {

    private static final Logger LOG = LoggerFactory.getLogger(WushLinear.class);

    /** Version byte of the parameters {@link #saveParameters} writes. */
    private static final byte VERSION = 1;

    private volatile PackedLayer packed; // null until loaded, for a block made by unloaded()
    private volatile NDArray bias; // (out) or null
    private final Map<Integer, CudaPackedLayer> onDevice = new ConcurrentHashMap<>(); // by CUDA device id
    private volatile boolean warnedHost;

    /**
     * @param manager owns the arrays this block keeps (a model's manager): closing it frees the packed layer and its
     *     device copies
     * @param bias the original layer's bias, or null
     */
    public WushLinear(NDManager manager, QuantizedLayer layer, boolean quantizeActivations, NDArray bias) {
        this(manager, PackedLayer.of(layer, quantizeActivations), bias);
    }

    /** Wraps an already packed layer, which {@code manager} owns from now on. */
    public WushLinear(NDManager manager, PackedLayer packed, NDArray bias) {
        super(VERSION);
        own(manager, packed, bias == null ? null : bias.toType(DataType.FLOAT32, true));
    }

    private WushLinear() {
        super(VERSION);
    }

    /**
     * A block with no weights yet, for {@link #loadParameters}: put it where a {@code WushLinear} was when the model
     * was saved (see {@link #placeholders}), then load the model with DJL's {@code Model.load}.
     */
    public static WushLinear unloaded() {
        return new WushLinear();
    }

    /**
     * Replaces every {@link Linear} of {@code root} whose path {@code layers} accepts by an {@linkplain #unloaded()
     * unloaded} {@code WushLinear}: a fresh copy of a block tree that was quantized with the same filter then takes
     * the quantized parameters through {@code Model.load}. Returns the paths replaced.
     */
    public static List<String> placeholders(Block root, Predicate<String> layers) {
        List<String> paths = BlockPaths.linears(root).keySet().stream().filter(layers).toList();
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("no Linear block matches the layer filter");
        }
        List<String> replaced = new ArrayList<>();
        for (String path : paths) {
            Block block = BlockPaths.find(root, path); // SequentialBlock parents rename the children after a replaced one
            WushLinear shell = unloaded();
            BlockPaths.replace(root, BlockPaths.pathOf(root, block), shell);
            replaced.add(BlockPaths.pathOf(root, shell));
        }
        return replaced;
    }

    private void own(NDManager manager, PackedLayer layer, NDArray bias32) {
        if (bias32 != null) {
            bias32.attach(manager);
        }
        this.packed = layer;
        this.bias = bias32;
        manager.attachInternal("wush-linear-" + UUID.randomUUID(), (AutoCloseable) () -> release(layer));
    }

    /** Frees a packed layer and the device copies made of it; run when the owning manager closes. */
    private void release(PackedLayer layer) {
        if (packed == layer) {
            for (CudaPackedLayer copy : onDevice.values()) {
                copy.close();
            }
            onDevice.clear();
        }
        layer.close();
    }

    /**
     * Frees this block's native memory now (its packed layer, device copies and bias) instead of when its manager
     * closes: for a pipeline that has written a block out and drops it. The block cannot run afterwards.
     */
    public void free() {
        PackedLayer p = packed;
        if (p != null) {
            release(p);
        }
        NDArray b = bias;
        if (b != null) {
            b.close();
        }
    }

    /** The packed layer: weights, scales, transforms, kernels. */
    public PackedLayer packed() {
        return loaded();
    }

    private PackedLayer loaded() {
        PackedLayer p = packed;
        if (p == null) {
            throw new IllegalStateException("this WushLinear has no weights yet: load them with Model.load (see WushLinear.placeholders)");
        }
        return p;
    }

    /** True once the block holds weights (always, except for an {@link #unloaded()} block before loading). */
    @Override
    public boolean isInitialized() {
        return packed != null;
    }

    /** {@code (…, in)} to {@code (…, out)}. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        PackedLayer p = loaded();
        if (inputShapes.length != 1 || inputShapes[0].dimension() == 0 || inputShapes[0].get(inputShapes[0].dimension() - 1) != p.in()) {
            throw new IllegalArgumentException(p.name() + ": expected one input of shape (..., " + p.in() + "), got "
                    + java.util.Arrays.toString(inputShapes));
        }
        long[] out = inputShapes[0].getShape().clone();
        out[out.length - 1] = p.out();
        return new Shape[] {new Shape(out)};
    }

    /**
     * Writes the version byte, then the packed layer exactly as it is in memory ({@link PackedLayer#write}) and the
     * bias: {@code Model.save} of any block tree holding this block.
     */
    @Override
    public void saveParameters(DataOutputStream os) throws IOException {
        PackedLayer p = loaded();
        os.write(VERSION);
        p.write(os);
        NDArray b = bias;
        os.writeBoolean(b != null);
        if (b != null) {
            float[] values = b.toFloatArray();
            ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            buffer.asFloatBuffer().put(values);
            os.writeInt(values.length);
            os.write(buffer.array());
        }
    }

    /** Reads what {@link #saveParameters} wrote; {@code manager} (the model's) owns the layer from now on. */
    @Override
    public void loadParameters(NDManager manager, DataInputStream is) throws IOException, MalformedModelException {
        byte version = is.readByte();
        if (version != VERSION) {
            throw new MalformedModelException("WushLinear parameters of version " + version + "; this library reads version " + VERSION);
        }
        PackedLayer layer;
        try {
            layer = PackedLayer.read(is);
        } catch (IOException e) {
            throw new MalformedModelException("WushLinear parameters: " + e.getMessage(), e);
        }
        NDArray b = null;
        try {
            if (is.readBoolean()) {
                int n = is.readInt();
                if (n != layer.out()) {
                    throw new MalformedModelException(layer.name() + ": a bias of " + n + " values for " + layer.out() + " outputs");
                }
                byte[] bytes = new byte[4 * n];
                is.readFully(bytes);
                float[] values = new float[n];
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
                b = manager.create(values);
            }
        } catch (IOException | MalformedModelException | RuntimeException e) {
            layer.close();
            throw e;
        }
        PackedLayer old = packed;
        own(manager, layer, b);
        if (old != null) {
            release(old);
        }
    }

    /** True for W4A4, false for W4A16. */
    public boolean quantizesActivations() {
        return packed.quantizesActivations();
    }

    /** The bias, or null. */
    public NDArray bias() {
        return bias;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        PackedLayer packed = loaded();
        NDArray bias = this.bias;
        NDArray x = inputs.head();
        DataType dtype = x.getDataType();
        Shape shape = x.getShape();
        int in = packed.in();
        if (shape.dimension() == 0 || shape.get(shape.dimension() - 1) != in) {
            throw new IllegalArgumentException(packed.name() + ": expected " + in + " input features, got " + shape);
        }
        int rows = Math.toIntExact(shape.size() / in);
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = packed.out();
        NDArray result;
        if (x.getDevice().isGpu() && Fp4Scales.supports(packed.format())) {
            result = forwardCuda(x, rows).reshape(new Shape(outShape));
        } else {
            if (x.getDevice().isGpu() && !warnedHost) {
                warnedHost = true;
                LOG.warn("{}: {} has no CUDA kernels; this layer runs on the CPU and copies its activations to and from {}",
                        packed.name(), packed.format().name(), x.getDevice());
            }
            result = forwardHost(x, rows, new Shape(outShape));
        }
        if (bias != null) {
            result = result.add(bias);
        }
        return new NDList(result.toType(dtype, false));
    }

    /**
     * The outputs of several blocks that read the same input {@code x}, e.g. a block's query, key and value
     * projections: when they are all {@code WushLinear} layers that {@link PackedLayer#canShare} takes, running on
     * PyTorch CPU arrays, one fork-join of the packed kernels computes them all (decoding calls these layers some
     * hundred times per token, and each fork-join costs tens of microseconds); otherwise each block's own forward.
     * Results are the same either way.
     */
    public static NDList forwardShared(ParameterStore ps, NDArray x, boolean training, Block... blocks) {
        NDList shared = training ? null : hostShared(x, blocks);
        if (shared != null) {
            return shared;
        }
        NDList out = new NDList(blocks.length);
        for (Block block : blocks) {
            out.add(block.forward(ps, new NDList(x), training).head());
        }
        return out;
    }

    private static NDList hostShared(NDArray x, Block[] blocks) {
        if (!ArrayMemory.reachable(x) || blocks.length == 0) {
            return null;
        }
        PackedLayer[] layers = new PackedLayer[blocks.length];
        for (int i = 0; i < blocks.length; i++) {
            if (!(blocks[i] instanceof WushLinear w)) {
                return null;
            }
            if (w.packed == null) {
                return null; // its own forward says it is not loaded
            }
            layers[i] = w.packed;
        }
        Shape shape = x.getShape();
        int in = layers[0].in();
        if (shape.dimension() == 0 || shape.get(shape.dimension() - 1) != in) {
            return null; // each layer's forward reports the mismatch
        }
        int rows = Math.toIntExact(shape.size() / in);
        if (!PackedLayer.canShare(layers, rows)) {
            return null;
        }
        MemorySegment input = ArrayMemory.of(x.toType(DataType.FLOAT32, false));
        if (input == null) {
            return null;
        }
        NDArray[] ys = new NDArray[blocks.length];
        MemorySegment[] outputs = new MemorySegment[blocks.length];
        for (int i = 0; i < blocks.length; i++) {
            long[] outShape = shape.getShape().clone();
            outShape[outShape.length - 1] = layers[i].out();
            ys[i] = x.getManager().create(new Shape(outShape), DataType.FLOAT32);
            outputs[i] = ArrayMemory.of(ys[i]);
            if (outputs[i] == null) {
                for (int j = 0; j <= i; j++) {
                    ys[j].close();
                }
                return null;
            }
        }
        PackedLayer.forwardShared(input, rows, layers, outputs);
        NDList out = new NDList(blocks.length);
        for (int i = 0; i < blocks.length; i++) {
            NDArray bias = ((WushLinear) blocks[i]).bias;
            NDArray y = bias == null ? ys[i] : ys[i].add(bias);
            out.add(y.toType(x.getDataType(), false));
        }
        return out;
    }

    /**
     * The packed kernels on the host. On PyTorch's CPU arrays they read the input's memory and write the
     * output array's memory in place (direct views of contiguous tensors): no activation copies.
     */
    private NDArray forwardHost(NDArray x, int rows, Shape outShape) {
        NDManager manager = x.getManager();
        NDArray x32 = x.toType(DataType.FLOAT32, false);
        MemorySegment input = ArrayMemory.of(x32);
        if (input != null) {
            NDArray y = manager.create(outShape, DataType.FLOAT32);
            MemorySegment output = ArrayMemory.of(y);
            if (output != null) {
                packed.forward(input, rows, output);
                return y;
            }
            y.close();
        }
        float[] y = packed.forward(x32.toFloatArray(), rows);
        return manager.create(y, outShape).toDevice(x.getDevice(), false);
    }

    /** (rows, out) float32 on x's device, computed by the CUDA kernels on PyTorch's current stream. */
    private NDArray forwardCuda(NDArray x, int rows) {
        int device = x.getDevice().getDeviceId();
        CudaKernels cuda = CudaKernels.require();
        cuda.setDevice(device);
        CudaPackedLayer layer = onDevice.computeIfAbsent(device, id -> new CudaPackedLayer(packed));
        TorchCuda.Pointer input = TorchCuda.pointer(x.toType(DataType.FLOAT32, false));
        NDArray y = x.getManager().create(new Shape(rows, packed.out()), DataType.FLOAT32, x.getDevice());
        TorchCuda.Pointer output = TorchCuda.pointer(y);
        layer.forward(input.address(), rows, output.address(), TorchCuda.currentStream(x.getDevice()));
        return y;
    }
}
