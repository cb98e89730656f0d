"""Tools roles use besides the model: web and document search engines."""
