package dev.wush.zoo;

import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooProvider;

/** Registers {@link WushModelZoo} with DJL (through {@code META-INF/services}). */
public final class WushZooProvider implements ZooProvider {

    @Override
    public ModelZoo getModelZoo() {
        return new WushModelZoo();
    }
}
