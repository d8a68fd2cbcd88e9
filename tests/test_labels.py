from data_contracts.labels import CANONICAL_EMOTIONS, canonical_emotion, label_table


def test_every_mapping_is_canonical():
    assert set(label_table().values()) <= set(CANONICAL_EMOTIONS)


def test_corpus_codes_then_generic_names():
    assert canonical_emotion("ravdess", "02") == "calm"
    assert canonical_emotion("emodb", "W") == "angry"
    assert canonical_emotion("emodb", "L") == "boredom"
    assert canonical_emotion("crema_d", "FEA") == "fearful"
    assert canonical_emotion("tess", "ps") == "surprised"
    assert canonical_emotion("folders", "Angry") == "angry"
    assert canonical_emotion("casia", "surprise") == "surprised"


def test_unknown_label_is_none():
    assert canonical_emotion("ravdess", "09") is None
    assert canonical_emotion("folders", "sarcastic") is None
