"""The clinic's words on every page (crm.vocabulary): ``{{ words.contact }}``,
``{{ words.record_no }}`` … read from the clinic the request serves."""

from .vocabulary import clinic_vocabulary


def clinic_words(request) -> dict:
    return {"words": clinic_vocabulary()}
