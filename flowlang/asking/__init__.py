"""How question-like nodes ask and read answers: prompts, choices, answer checks."""
