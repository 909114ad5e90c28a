/**
 * Zero-shot task accuracy by log-likelihood, as EleutherAI's lm-evaluation-harness scores ARC, HellaSwag, PIQA,
 * WinoGrande and LAMBADA: dataset readers, a continuation translator that runs each context once, and the evaluator.
 */
package dev.wush.translators.tasks;
