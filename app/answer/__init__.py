"""What a question gets: hybrid search over the store, the "could not find" decision, the prompt, the checked
or quoted answer and its citations."""
