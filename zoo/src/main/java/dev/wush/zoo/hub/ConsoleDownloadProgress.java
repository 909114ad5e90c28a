package dev.wush.zoo.hub;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Draws one progress bar per downloaded file on standard error. */
public final class ConsoleDownloadProgress implements DownloadListener {

    private ProgressBar bar;

    @Override
    public void fileStarted(String file, long totalBytes, long alreadyHave) {
        bar = new ProgressBarBuilder()
                .setTaskName(alreadyHave > 0 ? file + " (resumed)" : file)
                .setInitialMax(totalBytes)
                .setUnit(" MB", 1 << 20)
                .showSpeed()
                .setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .build();
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
