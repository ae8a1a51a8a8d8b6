"""Data that does not fit its configuration is refused with a one-line answer.

Widths, task and text input of the file must be the configuration's (the
dataset table's or the ones set), a modality with no finite value is
refused, MMSA files give their T (and MMSA MOSI its widths) where the
config's are the table's, and a missing path is a `MissingFileError`.
"""

import numpy as np
import pytest
from data_fixtures import hkt_data, mag_data, mmsa_data, write_cherma, write_pickle

from glomo_keras.config import GLoMoConfig
from glomo_keras.data import DataFormatError, load, read
from glomo_keras.data.fitting import load_options
from glomo_keras.errors import GLoMoError, MissingFileError


def _fit(config, path):
    """What `prepare_data` does, without a tokenizer (MAG/HKT stay untokenised)."""
    dataset = load(path, use_cache=False, **load_options(config))
    return dataset.config, dataset.config_notes


def test_a_mosei_layout_file_is_refused_for_mosi_with_the_dataset_that_fits(tmp_path):
    path = write_pickle(tmp_path / "features.pkl", mag_data(visual_dim=35))
    with pytest.raises(DataFormatError) as error:
        _fit(GLoMoConfig.for_dataset("mosi"), path)
    message = str(error.value)
    assert message == (
        f"{path}: field 'visual': the file has 35 visual columns where the mosi configuration "
        "expects 47 (visual_dim); this looks like mosei's layout: --dataset mosei; "
        "to train on it as it is: --set visual_dim=35")
    assert isinstance(error.value, GLoMoError) and isinstance(error.value, ValueError)
    assert error.value.field == "visual" and "\n" not in message
    config, notes = _fit(GLoMoConfig.for_dataset("mosei"), path)
    assert (config.acoustic_dim, config.visual_dim, notes) == (74, 35, [])
    config, _ = _fit(GLoMoConfig.for_dataset("mosi", visual_dim=35), path)
    assert (config.dataset, config.visual_dim) == ("mosi", 35)


def test_an_acoustic_block_of_other_width_names_the_override(tmp_path):
    path = write_pickle(tmp_path / "mine.pkl", mag_data(acoustic_dim=10))
    with pytest.raises(DataFormatError, match=(
            r"mine\.pkl: field 'acoustic': the file has 10 acoustic columns where the mosi "
            r"configuration expects 74 \(acoustic_dim\); to train on it as it is: "
            r"--set acoustic_dim=10$")):
        _fit(GLoMoConfig.for_dataset("mosi"), path)
    with pytest.raises(DataFormatError, match="expects 12 .acoustic_dim.; to train"):
        _fit(GLoMoConfig.for_dataset("mosi", acoustic_dim=12), path)


def test_own_widths_under_a_column_selection_name_its_override_too(tmp_path):
    data = hkt_data()
    for split in data.values():
        for index, (punchline, context, hid, label) in enumerate(split):
            split[index] = ((*punchline[:2], punchline[2][:, :40], punchline[3]),
                            (*context[:2], context[2][:, :40], context[3]), hid, label)
    path = write_pickle(tmp_path / "jokes.pkl", data)
    with pytest.raises(DataFormatError, match=(
            "field 'acoustic': the file has 40 acoustic columns where the mustard configuration "
            r"expects 81 \(acoustic_dim\); to train on it as it is: --set acoustic_dim=40 "
            r"--set acoustic_columns=\[0,40\]$")):
        _fit(GLoMoConfig.for_dataset("mustard"), path)
    config, _ = _fit(GLoMoConfig.for_dataset("mustard", acoustic_dim=40,
                                             acoustic_columns=[0, 40]), path)
    assert (config.acoustic_input_dim, config.visual_input_dim) == (40, 36)


def test_the_task_and_text_input_must_be_the_configs(tmp_path):
    sentiment = write_pickle(tmp_path / "a.pkl", mag_data())
    with pytest.raises(DataFormatError, match=(
            r"field 'label': the file holds regression labels \(sentiment scores\) but the "
            "urfunny configuration's task is classification; this looks like mosi's layout: "
            "--dataset mosi$")):
        _fit(GLoMoConfig.for_dataset("urfunny"), sentiment)
    jokes = write_pickle(tmp_path / "b.pkl", hkt_data())
    with pytest.raises(DataFormatError, match=(
            "holds classification labels .* the mosi configuration's task is regression; "
            "this looks like urfunny's or mustard's layout: --dataset urfunny$")):
        _fit(GLoMoConfig.for_dataset("mosi"), jokes)
    cherma = write_cherma(tmp_path / "CHERMA0723", sizes=(2, 1, 1), dims=(8, 6, 4))
    with pytest.raises(DataFormatError, match=(
            "field 'text': the file holds text features .* text_encoder is 'bert'")):
        _fit(GLoMoConfig.for_dataset("mustard"), cherma)


def test_an_all_nonfinite_modality_is_refused_and_a_partial_one_replaced(tmp_path):
    data = mag_data()
    for (_, visual, _), _, _ in data["dev"]:
        visual[:] = np.nan
    with pytest.raises(DataFormatError, match=(
            r"nan\.pkl: split 'valid', field 'visual': all \d+ values are non-finite")) as error:
        read(write_pickle(tmp_path / "nan.pkl", data))
    assert (error.value.split, error.value.field) == ("valid", "visual")
    mmsa = mmsa_data()
    mmsa["test"]["audio"][:] = np.inf
    with pytest.raises(DataFormatError, match="split 'test', field 'audio': all 750 values"):
        read(write_pickle(tmp_path / "aligned_50.pkl", mmsa))
    data = mag_data()
    (_, visual, _), _, _ = data["dev"][0]
    visual[:] = np.nan
    dataset = read(write_pickle(tmp_path / "partly.pkl", data))
    assert dataset.report.splits["valid"].nonfinite_replaced["visual"] == visual.size


def test_an_mmsa_file_gives_its_t_and_mosi_widths_unless_t_is_asked(tmp_path):
    path = write_pickle(tmp_path / "aligned_50.pkl", mmsa_data())
    config, notes = _fit(GLoMoConfig.for_dataset("mosi"), path)
    assert (config.max_sequence_length, config.acoustic_dim, config.visual_dim) == (50, 5, 20)
    assert notes == [f"{path} fixes T: its MMSA token ids are padded to 50, so "
                     "max_sequence_length = 50 instead of mosi's 60"]
    refused = (f"{path}: field 'text_bert': the file's token ids are padded to T = 50, but "
               "max_sequence_length = 64 was asked; leave max_sequence_length unset to train "
               "with the file's T = 50")
    with pytest.raises(DataFormatError) as error:
        _fit(GLoMoConfig.for_dataset("mosi", max_sequence_length=64), path)
    assert str(error.value) == refused
    loaded = load(path, use_cache=False)  # a study's data, loaded once
    with pytest.raises(DataFormatError) as error:
        load(loaded, config=GLoMoConfig.for_dataset("mosi", max_sequence_length=64))
    assert str(error.value) == refused
    with pytest.raises(DataFormatError, match=(
            "5 acoustic columns where the mosei configuration expects 74 .* and 20 visual "
            "columns where .* 35 .*this looks like mosi's layout: --dataset mosi; to train "
            "on it as it is: --set acoustic_dim=5 --set visual_dim=20$")):
        _fit(GLoMoConfig.for_dataset("mosei"), path)


def test_prepare_data_says_in_one_line_that_the_file_fixes_t(tmp_path, capsys):
    from glomo_keras.training.trainer import prepare_data

    path = write_pickle(tmp_path / "unaligned_50.pkl",
                        mmsa_data(audio=(30, 5), vision=(40, 20), lengths=True))
    config, dataset = prepare_data(GLoMoConfig.for_dataset("mosi"), str(path), None,
                                   use_cache=False)
    assert config.max_sequence_length == dataset.preprocessor.sequence_length == 50
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "fixes T: its MMSA token ids are padded to 50, so max_sequence_length = 50 "
        "instead of mosi's 60")
    again, _ = prepare_data(config, dataset, None)
    assert again == config and capsys.readouterr().err == ""


def test_a_missing_data_path_is_a_missing_file_error(tmp_path):
    from glomo_keras.training.trainer import prepare_data

    missing = tmp_path / "datasets" / "mosi.pkl"
    expected = (f"{missing}: no such file or folder; expected a data file (a MAG, HKT or MMSA "
                "pickle) or a CHERMA folder")
    for use_cache in (True, False):
        with pytest.raises(MissingFileError) as error:
            prepare_data(GLoMoConfig.for_dataset("mosi"), str(missing), None, use_cache)
        assert str(error.value) == expected and isinstance(error.value, GLoMoError)


def test_data_prepared_for_other_columns_or_classes_is_refused(tmp_path):
    path = write_pickle(tmp_path / "jokes.pkl", hkt_data())
    config = GLoMoConfig.for_dataset("mustard")
    loaded = load(path, use_cache=False, **load_options(config))  # a study's data, loaded once
    fitted = load(loaded, config=config)
    assert (fitted.config, fitted.config_notes) == (config, [])
    with pytest.raises(DataFormatError, match=(
            "field 'acoustic_columns': the model input 'acoustic' has 40 features but the "
            "preprocessor gives 60$")):
        load(loaded, config=config.replace(acoustic_columns=(0, 40)))
    with pytest.raises(DataFormatError, match=(
            r"field 'class_names': the model has 3 classes but the preprocessor names 2: "
            r"\['negative', 'positive'\]$")):
        load(loaded, config=config.replace(class_names=("a", "b", "c")))
