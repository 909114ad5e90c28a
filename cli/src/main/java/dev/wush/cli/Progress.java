package dev.wush.cli;

import dev.wush.zoo.hub.ProgressBars;
import me.tongfei.progressbar.ProgressBar;

/** The commands' progress: on standard error, a bar on a terminal and occasional plain lines otherwise. */
final class Progress {

    private Progress() {}

    static ProgressBar bar(String task, long max, String unit) {
        return ProgressBars.start(task, max, unit, 1, false);
    }
}
