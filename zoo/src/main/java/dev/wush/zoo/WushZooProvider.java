package dev.wush.zoo;

import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooProvider;
import dev.wush.kernel.KernelThreads;

/** Registers {@link WushModelZoo} with DJL (through {@code META-INF/services}). */
public final class WushZooProvider implements ZooProvider {

    static {
        KernelThreads.preferPassiveOpenMp(); // DJL finds the zoos before it loads an engine for them
    }

    @Override
    public ModelZoo getModelZoo() {
        return new WushModelZoo();
    }
}
