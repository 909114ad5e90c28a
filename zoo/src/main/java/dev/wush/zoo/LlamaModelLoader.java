package dev.wush.zoo;

import ai.djl.Application;
import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.repository.MRL;
import ai.djl.repository.Repository;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelLoader;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.util.Progress;
import dev.wush.io.CheckpointException;
import dev.wush.kernel.KernelThreads;
import dev.wush.translators.TextTokenizer;
import dev.wush.zoo.hub.ConsoleDownloadProgress;
import dev.wush.zoo.hub.DownloadListener;
import dev.wush.zoo.hub.HfRepository;
import dev.wush.zoo.llama.LlamaConfig;
import dev.wush.zoo.llama.LlamaForCausalLM;
import dev.wush.zoo.llama.LlamaLoader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Loads a Llama-family checkpoint as a DJL {@link ZooModel} on the PyTorch engine (CPU). For a zoo
 * entry the checkpoint is that entry's; for the generic loader ({@code artifactId "llama"}) it is the
 * criteria argument {@code model}: a directory or {@code hf:owner/name[@revision]}. The criteria
 * argument {@code dtype} ({@code float32} default, {@code float16}, or {@code auto}) sets the type
 * weights are held and computed in. A WUSH-quantized checkpoint loads as such; the argument
 * {@code quantization} ({@code wush:<format>}) quantizes a full-precision one on load (see
 * {@link QuantizeOnLoad}).
 */
public final class LlamaModelLoader implements ModelLoader {

    /** Model property holding the local checkpoint directory. */
    public static final String MODEL_DIR = "wush.modelDir";

    private final ModelEntry entry; // null for the generic loader

    LlamaModelLoader(ModelEntry entry) {
        this.entry = entry;
    }

    @Override
    public String getGroupId() {
        return WushModelZoo.GROUP_ID;
    }

    @Override
    public String getArtifactId() {
        return entry == null ? WushModelZoo.ANY_LLAMA : entry.artifactId();
    }

    @Override
    public Application getApplication() {
        return Application.NLP.TEXT_GENERATION;
    }

    @Override
    public MRL getMrl() {
        // metadata only: a remote URL, never a local one (DJL would scan a local repository's files)
        String url = "https://huggingface.co/" + (entry != null && entry.hubRepo() != null ? entry.hubRepo() : "models");
        return MRL.undefined(Repository.newInstance(getArtifactId(), url), getGroupId(), getArtifactId());
    }

    @Override
    public <I, O> ZooModel<I, O> loadModel(Criteria<I, O> criteria)
            throws IOException, ModelNotFoundException, MalformedModelException {
        Map<String, Object> args = criteria.getArguments() == null ? Map.of() : criteria.getArguments();
        Progress progress = criteria.getProgress();
        ModelResolver resolver = ModelResolver.fromEnvironment(
                progress == null ? DownloadListener.SILENT : HfRepository.listener(progress));
        Path dir;
        if (entry != null) {
            dir = resolver.resolve(entry);
        } else {
            Object source = args.get("model");
            if (source == null) {
                throw new ModelNotFoundException("criteria for " + WushModelZoo.GROUP_ID + ":" + WushModelZoo.ANY_LLAMA
                        + " need optArgument(\"model\", <directory or hf:owner/name>), or use optModelUrls(\"hf://owner/name\")"
                        + " or LlamaBlockFactory.criteria(...).optModelPath(dir)");
            }
            dir = resolver.resolve(source.toString());
        }
        return load(dir, criteria, progress);
    }

    /**
     * Applies the {@code threads} argument: the thread budget of the engine and the packed kernels
     * ({@link KernelThreads#set}, process-wide); absent, the default budget (physical cores).
     */
    static void threads(Object arg) {
        if (arg == null) {
            KernelThreads.threads();
            return;
        }
        int n;
        try {
            n = arg instanceof Number number ? Math.toIntExact(number.longValue()) : Integer.parseInt(arg.toString().trim());
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("threads '" + arg + "': a whole number of at least 1");
        }
        if (n < 1) {
            throw new IllegalArgumentException("threads '" + arg + "': a whole number of at least 1");
        }
        KernelThreads.set(n);
    }

    /**
     * float32 (default), float16, or auto: float32 for float32 checkpoints, float16 for 16-bit ones.
     * bfloat16 cannot be held: DJL 0.35.1's PyTorch JNI aborts on bfloat16 tensors.
     */
    public static DataType dtype(Object arg, Path dir) throws IOException {
        String name = arg == null ? "float32" : arg.toString();
        return switch (name) {
            case "float32" -> DataType.FLOAT32;
            case "float16" -> DataType.FLOAT16;
            case "auto" -> LlamaConfig.load(dir).torchDtype() == DataType.FLOAT32 ? DataType.FLOAT32 : DataType.FLOAT16;
            default -> throw new IllegalArgumentException("dtype " + name + ": use float32, float16 or auto"
                    + (name.equals("bfloat16") ? " (DJL 0.35.1's PyTorch engine cannot hold bfloat16 arrays;"
                            + " bf16 checkpoints load exactly as float32)" : ""));
        };
    }

    private <I, O> ZooModel<I, O> load(Path dir, Criteria<I, O> criteria, Progress progress)
            throws IOException, MalformedModelException {
        Map<String, Object> arguments = criteria.getArguments() == null ? Map.of() : criteria.getArguments();
        Model model = Model.newInstance(getArtifactId(), criteria.getDevice(), "PyTorch");
        try {
            LlamaBlockFactory factory = new LlamaBlockFactory();
            factory.setProgress(progress);
            model.setBlock(factory.newBlock(model, dir, arguments));
            TranslatorFactory translators = criteria.getTranslatorFactory();
            if (translators == null || !translators.isSupported(criteria.getInputClass(), criteria.getOutputClass())) {
                translators = new LlamaTranslatorFactory();
            }
            Translator<I, O> translator = translators.newInstance(criteria.getInputClass(), criteria.getOutputClass(), model, arguments);
            return new ZooModel<>(model, translator);
        } catch (CheckpointException e) {
            model.close();
            throw new MalformedModelException(e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        } catch (TranslateException e) {
            model.close();
            throw new MalformedModelException(e.getMessage(), e);
        }
    }

    /** The local checkpoint directory of a model this loader loaded. */
    public static Path modelDir(Model model) {
        String dir = model.getProperty(MODEL_DIR);
        if (dir == null) {
            throw new IllegalArgumentException("model " + model.getName() + " was not loaded by the WUSH zoo");
        }
        return Path.of(dir);
    }

    /** The tokenizer of a model this loader loaded, with the config's BOS and EOS ids. */
    public static TextTokenizer tokenizer(Model model) throws IOException {
        return tokenizer(modelDir(model), ((LlamaForCausalLM) model.getBlock()).config());
    }

    /** The tokenizer of a checkpoint directory, with its config's BOS and EOS ids. */
    public static TextTokenizer tokenizer(Path dir, LlamaConfig config) throws IOException {
        return TextTokenizer.load(dir, config.bosTokenId(), config.eosTokenIds().stream().map(Integer::longValue).toList());
    }

    @Override
    public <I, O> boolean isDownloaded(Criteria<I, O> criteria) {
        return false;
    }

    @Override
    public <I, O> void downloadModel(Criteria<I, O> criteria, Progress progress) throws IOException {
        if (entry != null) {
            ModelResolver.fromEnvironment(progress == null ? new ConsoleDownloadProgress() : HfRepository.listener(progress)).resolve(entry);
        }
    }

    @Override
    public String toString() {
        return getGroupId() + ":" + getArtifactId() + (entry == null ? "" : " (" + entry.description() + ")");
    }
}
