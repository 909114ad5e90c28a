package dev.wush.zoo;

import ai.djl.Model;
import ai.djl.translate.ArgumentsUtil;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.util.Pair;
import dev.wush.translators.GenerationConfig;
import dev.wush.translators.PerplexityTranslator;
import dev.wush.translators.TextGenerationTranslator;
import dev.wush.translators.TextTokenizer;
import dev.wush.translators.TokenWindows;
import dev.wush.translators.tasks.ChoiceScores;
import dev.wush.translators.tasks.ContextChoices;
import dev.wush.translators.tasks.ContinuationTranslator;
import dev.wush.translators.WindowLosses;
import dev.wush.zoo.llama.LlamaForCausalLM;
import java.io.IOException;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Translators for a loaded Llama model: {@code String → String} generates a continuation (criteria
 * arguments {@code maxNewTokens}, {@code temperature}, {@code topP}, {@code seed}), and
 * {@code TokenWindows → WindowLosses} scores token windows for perplexity; {@code ContextChoices → ChoiceScores}
 * scores continuations after a context (zero-shot tasks, {@link dev.wush.translators.tasks.TaskEvaluator}).
 */
public final class LlamaTranslatorFactory implements TranslatorFactory {

    private static final Set<Pair<Type, Type>> TYPES = Set.of(
            new Pair<>(String.class, String.class), new Pair<>(TokenWindows.class, WindowLosses.class),
            new Pair<>(ContextChoices.class, ChoiceScores.class));

    @Override
    public Set<Pair<Type, Type>> getSupportedTypes() {
        return TYPES;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newInstance(Class<I> input, Class<O> output, Model model, Map<String, ?> arguments)
            throws TranslateException {
        if (input == TokenWindows.class && output == WindowLosses.class) {
            return (Translator<I, O>) new PerplexityTranslator();
        }
        if (input == ContextChoices.class && output == ChoiceScores.class) {
            return (Translator<I, O>) new ContinuationTranslator();
        }
        if (input == String.class && output == String.class) {
            GenerationConfig config = new GenerationConfig(
                    ArgumentsUtil.intValue(arguments, "maxNewTokens", 128),
                    ArgumentsUtil.floatValue(arguments, "temperature", 0f),
                    ArgumentsUtil.floatValue(arguments, "topP", 1f),
                    ArgumentsUtil.longValue(arguments, "seed", 0L));
            LlamaForCausalLM lm = (LlamaForCausalLM) model.getBlock();
            try {
                TextTokenizer tokenizer = LlamaModelLoader.tokenizer(model);
                // the native tokenizer lives as long as the model
                model.getNDManager().attachInternal("tokenizer-" + UUID.randomUUID(), tokenizer);
                return (Translator<I, O>) new TextGenerationTranslator(tokenizer, config, lm.config().maxPositionEmbeddings());
            } catch (IOException e) {
                throw new TranslateException(e);
            }
        }
        throw new IllegalArgumentException("no Llama translator from " + input.getName() + " to " + output.getName()
                + "; supported: String→String (generation), TokenWindows→WindowLosses (perplexity),"
                + " ContextChoices→ChoiceScores (task log-likelihoods)");
    }
}
