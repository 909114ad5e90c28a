package dev.wush.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The weights of a Hugging Face model directory: either one {@code model.safetensors} or shards listed
 * by {@code model.safetensors.index.json}. Every shard is memory-mapped; a tensor is found by name in
 * whichever shard holds it.
 */
public final class SafeTensorsCheckpoint implements AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path directory;
    private final List<SafeTensorsFile> shards;
    private final Map<String, SafeTensorsFile> byTensor;

    private SafeTensorsCheckpoint(
            Path directory, List<SafeTensorsFile> shards, Map<String, SafeTensorsFile> byTensor) {
        this.directory = directory;
        this.shards = shards;
        this.byTensor = byTensor;
    }

    /** True when the directory holds safetensors weights in one of the two layouts. */
    public static boolean isCheckpoint(Path directory) {
        return Files.isRegularFile(directory.resolve(INDEX_FILE))
                || Files.isRegularFile(directory.resolve(SINGLE_FILE));
    }

    /** Opens the weights of a model directory (the index wins when both layouts are present). */
    public static SafeTensorsCheckpoint open(Path directory) throws IOException {
        Path index = directory.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return openSharded(directory, index);
        }
        Path single = directory.resolve(SINGLE_FILE);
        if (!Files.isRegularFile(single)) {
            throw new CheckpointException(
                    directory + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " found");
        }
        SafeTensorsFile file = SafeTensorsFile.open(single);
        Map<String, SafeTensorsFile> byTensor = new LinkedHashMap<>();
        for (String name : file.tensors().keySet()) {
            byTensor.put(name, file);
        }
        return new SafeTensorsCheckpoint(directory, List.of(file), byTensor);
    }

    private static SafeTensorsCheckpoint openSharded(Path directory, Path index) throws IOException {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, SafeTensorsFile> opened = new LinkedHashMap<>();
        Map<String, SafeTensorsFile> byTensor = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String shardName = e.getValue();
                if (shardName.isEmpty() || shardName.contains("..") || shardName.indexOf('\0') >= 0
                        || Path.of(shardName).isAbsolute()) {
                    throw CheckpointException.of(index, e.getKey(), "shard path escapes the model directory: " + shardName);
                }
                SafeTensorsFile shard = opened.get(shardName);
                if (shard == null) {
                    shard = SafeTensorsFile.open(directory.resolve(shardName));
                    opened.put(shardName, shard);
                }
                if (!shard.tensors().containsKey(e.getKey())) {
                    throw CheckpointException.of(
                            shard.path(), e.getKey(), "missing tensor (listed in " + index.getFileName() + ")");
                }
                byTensor.put(e.getKey(), shard);
            }
        } catch (IOException | RuntimeException e) {
            opened.values().forEach(SafeTensorsFile::close);
            throw e;
        }
        return new SafeTensorsCheckpoint(directory, new ArrayList<>(opened.values()), byTensor);
    }

    private static Map<String, String> readWeightMap(Path index) throws IOException {
        JsonObject root = JsonFiles.readObject(index);
        JsonElement map = root.get("weight_map");
        if (map == null || !map.isJsonObject()) {
            throw CheckpointException.of(index, null, "\"weight_map\" is " + JsonFiles.kind(map) + ", not an object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
            JsonElement shard = e.getValue();
            if (!shard.isJsonPrimitive() || !shard.getAsJsonPrimitive().isString()) {
                throw CheckpointException.of(index, e.getKey(), "weight_map entry is " + JsonFiles.kind(shard) + ", not a file name");
            }
            weightMap.put(e.getKey(), shard.getAsString());
        }
        return weightMap;
    }

    /** The model directory. */
    public Path directory() {
        return directory;
    }

    /** All tensor names, sorted. */
    public Set<String> names() {
        return Collections.unmodifiableSet(new TreeSet<>(byTensor.keySet()));
    }

    /** True when some shard holds the tensor. */
    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /** Header entry of a tensor, or an error naming the tensor. */
    public TensorInfo info(String name) throws CheckpointException {
        return file(name).info(name);
    }

    /** The shard holding a tensor. */
    public SafeTensorsFile file(String name) throws CheckpointException {
        SafeTensorsFile file = byTensor.get(name);
        if (file == null) {
            throw new CheckpointException(directory + ": tensor '" + name + "': missing tensor");
        }
        return file;
    }

    /** Reads a tensor, checks its shape, and converts it to {@code target}. */
    public NDArray load(NDManager manager, String name, Shape expected, DataType target)
            throws CheckpointException {
        return file(name).load(manager, name, expected, target);
    }

    @Override
    public void close() {
        shards.forEach(SafeTensorsFile::close);
    }
}
