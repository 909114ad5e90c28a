package dev.wush.zoo.hub;

import java.util.regex.Pattern;

/**
 * A model on the Hugging Face hub: {@code owner/name} at a revision (branch, tag or commit).
 * Written {@code hf:owner/name[@revision]} on the command line.
 */
public record HubModelId(String repo, String revision) {

    public static final String PREFIX = "hf:";
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]*");

    public HubModelId {
        if (!REPO.matcher(repo).matches() || repo.contains("..")) {
            throw new IllegalArgumentException("not a hub repository id (expected owner/name): " + repo);
        }
        if (!REVISION.matcher(revision).matches() || revision.contains("..")) {
            throw new IllegalArgumentException("not a revision: " + revision);
        }
    }

    /** True for strings of the form {@code hf:…}. */
    public static boolean isHubId(String model) {
        return model.startsWith(PREFIX);
    }

    /** Parses {@code hf:owner/name[@revision]}; the revision defaults to {@code main}. */
    public static HubModelId parse(String text) {
        String s = text.startsWith(PREFIX) ? text.substring(PREFIX.length()) : text;
        int at = s.indexOf('@');
        String repo = at < 0 ? s : s.substring(0, at);
        String revision = at < 0 ? "main" : s.substring(at + 1);
        try {
            return new HubModelId(repo, revision);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model " + text + ": " + e.getMessage()
                    + " (expected hf:owner/name or hf:owner/name@revision)");
        }
    }

    /** The cache folder name, {@code models--owner--name}. */
    public String cacheFolder() {
        return "models--" + repo.replace("/", "--");
    }

    /** True when the revision is a full commit hash. */
    public boolean isCommit() {
        return revision.matches("[0-9a-f]{40}");
    }

    @Override
    public String toString() {
        return PREFIX + repo + ("main".equals(revision) ? "" : "@" + revision);
    }
}
