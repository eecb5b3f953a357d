"""The stimulus side: protocols, trials, the Qt stimulus window; talks only through sync/ and LSL."""
