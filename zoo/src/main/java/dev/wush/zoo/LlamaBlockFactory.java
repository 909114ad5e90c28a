package dev.wush.zoo;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.repository.zoo.Criteria;
import ai.djl.util.Progress;
import dev.wush.zoo.hub.HfRepository;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * DJL's seam for models whose weights a {@code BaseModelLoader} does not read itself: builds the
 * {@link LlamaForCausalLM} of a Hugging Face checkpoint directory (full precision or WUSH-quantized), in the
 * model's manager and on its device, quantizing it on load when the argument {@code quantization} asks for it. The
 * arguments are those of the zoo (see {@code docs/java-api.md}): {@code dtype}, {@code threads},
 * {@code quantization} with its calibration arguments.
 *
 * <p>Any model directory loads the DJL way with {@link #criteria}:
 * <pre>{@code
 * Criteria<String, String> c = LlamaBlockFactory.criteria(String.class, String.class).optModelPath(dir).build();
 * }</pre>
 * {@code hf://owner/name} URLs need nothing more than {@code optModelUrls}: the {@code hf} repository sets all this up.
 * A checkpoint written by this library names this factory in its {@code serving.properties}, so {@code optModelPath}
 * needs only the translator ({@code optTranslatorFactory(new LlamaTranslatorFactory())}).
 */
public final class LlamaBlockFactory implements BlockFactory, HfRepository.ProgressAware {

    private static final long serialVersionUID = 1L;

    /** The DJL option that tells the engine the block brings its own weights (no {@code .params} file to read). */
    public static final String HAS_PARAMETER = "hasParameter";

    private transient volatile Progress progress;

    public LlamaBlockFactory() {}

    /** Told of quantize-on-load progress (the hub download reports through the repository). */
    @Override
    public void setProgress(Progress progress) {
        this.progress = progress;
    }

    /**
     * A criteria builder set up for Llama checkpoints: this factory, the zoo's translators, the engine option that the
     * block has its own weights. Add {@code optModelPath} or {@code optModelUrls}, and any argument.
     */
    public static <I, O> Criteria.Builder<I, O> criteria(Class<I> input, Class<O> output) {
        return Criteria.builder()
                .setTypes(input, output)
                .optEngine("PyTorch")
                .optArgument("blockFactory", new LlamaBlockFactory())
                .optTranslatorFactory(new LlamaTranslatorFactory())
                .optOption(HAS_PARAMETER, "false");
    }

    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) throws IOException {
        Path dir = Files.isRegularFile(modelPath) ? modelPath.getParent() : modelPath;
        Map<String, Object> args = new HashMap<>(arguments);
        requireDevice(model);
        LlamaModelLoader.threads(args.get("threads"));
        DataType dtype = LlamaModelLoader.dtype(args.get("dtype"), dir);
        // checked before any weight is read: a bad argument or calibration file fails in milliseconds
        QuantizeOnLoad.Settings quantization = args.containsKey("quantization") ? QuantizeOnLoad.settings(dir, args) : null;
        LlamaForCausalLM lm = quantization == null
                ? LlamaLoader.load(dir, model.getNDManager(), dtype)
                : QuantizeOnLoad.load(dir, model.getNDManager(), dtype, quantization, progress);
        model.setDataType(dtype);
        model.setProperty(LlamaModelLoader.MODEL_DIR, dir.toAbsolutePath().toString());
        return lm;
    }

    /** A GPU model needs an engine built with CUDA; anything else is said here, before any weight is read. */
    static void requireDevice(Model model) {
        ai.djl.Device device = model.getNDManager().getDevice();
        if (device.isGpu()) {
            Engine engine = model.getNDManager().getEngine();
            if (engine.getGpuCount() <= device.getDeviceId()) {
                throw new IllegalArgumentException("device " + device + ": the " + engine.getEngineName() + " engine here has "
                        + engine.getGpuCount() + " GPU(s); use a CUDA build of the engine (pytorch-native-cu*) or Device.cpu()");
            }
        }
    }
}
