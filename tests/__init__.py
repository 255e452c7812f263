"""The test suite; subfolders mirror draftfinder's packages."""
