package dev.wush.io;

import java.io.IOException;
import java.nio.file.Path;

/** A checkpoint file that cannot be used as it is: the message names the file and, where known, the tensor. */
public class CheckpointException extends IOException {

    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }

    static CheckpointException of(Path file, String tensor, String problem) {
        return new CheckpointException(
                file + (tensor == null ? "" : ": tensor '" + tensor + "'") + ": " + problem);
    }
}
