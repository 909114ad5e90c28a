package dev.wush.zoo;

/**
 * A model-zoo entry: where a known checkpoint lives and what it is.
 *
 * @param artifactId the zoo name, e.g. {@code stories260K} ({@code --model stories260K})
 * @param hubRepo the Hugging Face repository holding it in transformers layout, or null where none
 *     is published (then it must be in a local models directory, or the environment variable
 *     {@link #hubVariable()} names a repository)
 * @param localName the directory name looked for in the local models directories
 * @param description one line for listings: size, context, licence
 */
public record ModelEntry(String artifactId, String hubRepo, String localName, String description) {

    /** Environment variable that overrides (or supplies) the hub repository, e.g. {@code WUSH_HUB_STORIES260K}. */
    public String hubVariable() {
        return "WUSH_HUB_" + artifactId.toUpperCase(java.util.Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
    }
}
