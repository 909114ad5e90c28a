package dev.wush.zoo.hub;

import me.tongfei.progressbar.ProgressBar;

/** Draws one progress bar per downloaded file on standard error ({@link ProgressBars}: plain lines when redirected). */
public final class ConsoleDownloadProgress implements DownloadListener {

    private ProgressBar bar;

    @Override
    public void fileStarted(String file, long totalBytes, long alreadyHave) {
        bar = ProgressBars.start(alreadyHave > 0 ? file + " (resumed)" : file, totalBytes, "MB", 1 << 20, true);
        bar.stepTo(alreadyHave);
    }

    @Override
    public void bytesReceived(long bytes) {
        if (bar != null) {
            bar.stepBy(bytes);
        }
    }

    @Override
    public void fileFinished(String file, boolean fromCache) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        if (fromCache) {
            System.err.println(file + ": in cache");
        }
    }

    @Override
    public void note(String message) {
        System.err.println(message);
    }
}
