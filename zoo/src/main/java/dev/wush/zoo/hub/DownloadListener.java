package dev.wush.zoo.hub;

/** Told about each file of a hub download, e.g. to draw a progress bar. */
public interface DownloadListener {

    /** A file starts (or resumes: {@code alreadyHave} bytes were on disk from an earlier attempt). */
    default void fileStarted(String file, long totalBytes, long alreadyHave) {}

    /** More bytes of the current file arrived. */
    default void bytesReceived(long bytes) {}

    /** The current file is complete and verified, or was already in the cache. */
    default void fileFinished(String file, boolean fromCache) {}

    /** Something the user should know that is not an error (a retry, an offline fallback). */
    default void note(String message) {}

    /** A listener that ignores everything. */
    DownloadListener SILENT = new DownloadListener() {};
}
