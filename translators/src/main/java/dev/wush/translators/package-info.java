/** DJL translators and evaluators for causal language models: tokenization, generation, perplexity. */
package dev.wush.translators;
