"""The find workflow: candidates, configuration, ranking, results, and the finder that ties them together."""
