/** Checkpoint input and output: safetensors reading and sharded writing, atomic output directories, text and JSON files with clear errors. */
package dev.wush.io;
