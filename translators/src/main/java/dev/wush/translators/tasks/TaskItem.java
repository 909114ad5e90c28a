package dev.wush.translators.tasks;

import java.util.List;

/**
 * One question of a task as the harness scores it: a (context, continuation) request per choice, the index of the
 * right one, and the text each choice's log-likelihood is divided by for {@code acc_norm}.
 *
 * @param requests one per choice; a loglikelihood task (LAMBADA) has one request and gold 0
 * @param gold index of the right choice
 * @param choices the choice texts whose UTF-8 length normalises {@code acc_norm}
 */
public record TaskItem(List<Request> requests, int gold, List<String> choices) {

    /** {@code log P(continuation | context)} is asked of the model. */
    public record Request(String context, String continuation) {}

    public TaskItem {
        if (requests.isEmpty() || gold < 0 || gold >= requests.size() || choices.size() != requests.size()) {
            throw new IllegalArgumentException("an item needs one request and one choice text per choice, and a gold index among them");
        }
        requests = List.copyOf(requests);
        choices = List.copyOf(choices);
    }

    /** Multiple choice after one shared context: each continuation is {@code " " + choice}. */
    static TaskItem multipleChoice(String context, List<String> choices, int gold) {
        return new TaskItem(choices.stream().map(c -> new Request(context, " " + c)).toList(), gold, choices);
    }
}
