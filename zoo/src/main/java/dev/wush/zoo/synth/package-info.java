/** Seeded random checkpoints of real model shapes, for scale tests and benchmarks. */
package dev.wush.zoo.synth;
