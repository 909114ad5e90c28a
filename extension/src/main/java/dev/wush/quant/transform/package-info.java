/** The per-block transforms of METHOD.md: identity, Hadamard, random rotations, WUS and WUSH. */
package dev.wush.quant.transform;
