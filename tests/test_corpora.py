from pathlib import Path

import pytest

from data_contracts.reasons import Reason
from tasks.lib.corpora import RECIPES, Rejected, Utterance
from tasks.lib.corpora.csv_list import CsvLayoutError


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def only(records, cls):
    return [r for r in records if isinstance(r, cls)]


def test_registry_has_every_corpus():
    assert set(RECIPES) == {"ravdess", "crema_d", "emodb", "tess", "savee", "casia", "folders", "csv"}


def test_ravdess_fields_and_faults(tmp_path):
    touch(tmp_path, "Actor_03/03-01-05-02-01-02-03.wav", "Actor_04/03-01-01-01-02-01-04.flac",
          "Actor_03/03-01-05-01-01-01-08.wav", "Actor_03/notes.wav", "Actor_03/readme.txt")
    records = RECIPES["ravdess"](tmp_path)
    assert len(records) == 4  # the .txt is not audio
    u = next(r for r in only(records, Utterance) if r.speaker == "03")
    assert (u.emotion_raw, u.intensity, u.text_id, u.gender, u.speaker_id) == ("05", "strong", "01", "male", "ravdess:03")
    assert u.attributes == {"modality": "audio-only", "vocal_channel": "speech", "repetition": "02"}
    assert u.utterance_id == "ravdess/Actor_03/03-01-05-02-01-02-03.wav"
    assert next(r for r in only(records, Utterance) if r.speaker == "04").gender == "female"
    reasons = {Path(r.path).name: r.reason for r in only(records, Rejected)}
    assert reasons == {"03-01-05-01-01-01-08.wav": Reason.SPEAKER_MISMATCH, "notes.wav": Reason.UNPARSEABLE_NAME}


def test_crema_d_with_demographics(tmp_path):
    touch(tmp_path, "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1002_IEO_HAP_HI.mp3", "AudioWAV/bad.wav")
    (tmp_path / "VideoDemographics.csv").write_text("ActorID,Age,Sex\n1001,51,Male\n1002,21,Female\n")
    records = RECIPES["crema_d"](tmp_path)
    u = {r.speaker: r for r in only(records, Utterance)}
    assert (u["1001"].emotion_raw, u["1001"].text_id, u["1001"].intensity, u["1001"].gender) == ("ANG", "DFA", "unspecified", "male")
    assert (u["1002"].intensity, u["1002"].gender) == ("high", "female")
    assert [r.reason for r in only(records, Rejected)] == [Reason.UNPARSEABLE_NAME]


def test_emodb(tmp_path):
    touch(tmp_path, "03a01Fa.ogg", "16b10Wb.wav")
    a, b = RECIPES["emodb"](tmp_path)
    assert (a.speaker, a.text_id, a.emotion_raw, a.gender, a.attributes) == ("03", "a01", "F", "male", {"version": "a"})
    assert (b.speaker, b.emotion_raw, b.gender) == ("16", "W", "female")


def test_tess_savee_casia(tmp_path):
    touch(tmp_path / "tess", "OAF_angry/OAF_back_angry.wav", "YAF_ps/YAF_germ_ps.wav")
    tess = RECIPES["tess"](tmp_path / "tess")
    assert [(r.speaker, r.text_id, r.emotion_raw) for r in tess] == [("OAF", "back", "angry"), ("YAF", "germ", "ps")]
    touch(tmp_path / "savee", "DC_sa03.wav", "AudioData/JK/su12.wav")
    savee = RECIPES["savee"](tmp_path / "savee")
    assert sorted((r.speaker, r.emotion_raw, r.text_id) for r in savee) == [("DC", "sa", "sa03"), ("JK", "su", "su12")]
    touch(tmp_path / "casia", "wangzhe/angry/201.wav", "stray.wav")
    casia = RECIPES["casia"](tmp_path / "casia")
    assert [(r.speaker, r.emotion_raw, r.gender) for r in only(casia, Utterance)] == [("wangzhe", "angry", "male")]
    assert len(only(casia, Rejected)) == 1


def test_folders_with_speaker_regex(tmp_path):
    touch(tmp_path, "Angry/spk01_a.wav", "Sad/spk02_b.wav", "Sad/nobody.wav", "loose.wav")
    records = RECIPES["folders"](tmp_path, speaker_regex=r"spk(?P<speaker>\d+)")
    assert sorted((r.speaker, r.emotion_raw) for r in only(records, Utterance)) == [("01", "Angry"), ("02", "Sad")]
    assert len(only(records, Rejected)) == 2


def test_csv_layout(tmp_path):
    touch(tmp_path, "clips/a.wav")
    sheet = tmp_path / "labels.csv"
    sheet.write_text("path,emotion,speaker,gender\nclips/a.wav,happy,s1,female\nclips/missing.wav,sad,s2,\n")
    records = RECIPES["csv"](sheet)
    (u,) = only(records, Utterance)
    assert (u.speaker, u.emotion_raw, u.gender) == ("s1", "happy", "female")
    assert [r.reason for r in only(records, Rejected)] == [Reason.MISSING_FILE]
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\nx.wav,happy\n")
    with pytest.raises(CsvLayoutError, match="lacks required column"):
        RECIPES["csv"](bad)


def test_csv_rows_without_required_fields_are_quarantined_not_invented(tmp_path):
    touch(tmp_path, "clips/a.wav", "clips/b.wav", "clips/c.wav")
    sheet = tmp_path / "labels.csv"
    sheet.write_bytes("\ufeffpath,emotion,speaker\nclips/a.wav,happy,s1\nclips/b.wav,sad\nclips/c.wav,sad,\n".encode())
    records = RECIPES["csv"](sheet)
    assert [u.speaker for u in only(records, Utterance)] == ["s1"]  # the BOM did not hide the `path` column
    rejected = only(records, Rejected)
    assert [(r.reason, r.detail) for r in rejected] == [(Reason.MISSING_FIELD, "line 3 has no speaker"),
                                                        (Reason.MISSING_FIELD, "line 4 has no speaker")]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("path,emotion,speaker\nclips/a.wav,gl\xfccklich,s1\n".encode("latin-1"))
    with pytest.raises(CsvLayoutError, match="not UTF-8"):
        RECIPES["csv"](latin)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CsvLayoutError, match="no header"):
        RECIPES["csv"](empty)


def test_paths_leading_outside_the_corpus_are_quarantined(tmp_path):
    from tasks.lib.corpora.base import within_corpus

    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    touch(corpus, "clips/a.wav")
    touch(outside, "secret.wav")
    (corpus / "clips" / "link.wav").symlink_to(outside / "secret.wav")
    sheet = corpus / "labels.csv"
    sheet.write_text("path,emotion,speaker\nclips/a.wav,happy,s1\n../outside/secret.wav,sad,s2\nclips/link.wav,sad,s3\n")
    records = within_corpus(RECIPES["csv"](sheet), corpus)
    assert [u.speaker for u in only(records, Utterance)] == ["s1"]
    assert [r.reason for r in only(records, Rejected)] == [Reason.OUTSIDE_CORPUS] * 2
    folders = within_corpus(RECIPES["folders"](corpus), corpus)
    assert [r.reason for r in only(folders, Rejected)] == [Reason.OUTSIDE_CORPUS]
