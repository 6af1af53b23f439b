"""The learned line-role model: features of every line of a batch, a boosted classifier, a Viterbi pass."""
