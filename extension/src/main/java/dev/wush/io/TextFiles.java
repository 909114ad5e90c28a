package dev.wush.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads the UTF-8 text that an option, argument or checkpoint names. Every failure is one
 * {@link IOException} whose message starts with what named the file ({@code --data path: …}) and says
 * what is wrong with it in words: no such file, a directory, not readable, not UTF-8 (with the byte
 * offset of the first bad byte). Malformed bytes are never replaced silently.
 */
public final class TextFiles {

    private TextFiles() {}

    /**
     * The file's text.
     *
     * @param namedBy what named the file in messages, e.g. {@code "--data"}; null to name the path alone
     */
    public static String read(Path file, String namedBy) throws IOException {
        String who = namedBy == null ? file.toString() : namedBy + " " + file;
        check(file, who);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (AccessDeniedException e) {
            throw new IOException(who + ": permission denied");
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(who, null, "no such file");
        } catch (OutOfMemoryError e) {
            throw new IOException(who + ": too large to read as text (" + Files.size(file) + " bytes)");
        }
        return decode(bytes, who);
    }

    /** Throws a clear error unless {@code file} is a readable regular file; {@code who} starts messages. */
    public static void check(Path file, String who) throws IOException {
        if (!Files.exists(file)) {
            throw new NoSuchFileException(who, null, "no such file");
        }
        if (Files.isDirectory(file)) {
            throw new IOException(who + ": is a directory, not a file");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException(who + ": not a regular file");
        }
        if (!Files.isReadable(file)) {
            throw new IOException(who + ": permission denied");
        }
    }

    /** Strict UTF-8: the first malformed or unmappable byte is an error naming its offset. */
    public static String decode(byte[] bytes, String who) throws IOException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length); // UTF-8 never decodes to more chars than bytes
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            int at = in.position();
            throw new IOException(who + ": not UTF-8 text (invalid byte 0x"
                    + String.format("%02x", bytes[Math.min(at, bytes.length - 1)] & 0xFF) + " at offset " + at + ")");
        }
        return out.flip().toString();
    }
}
