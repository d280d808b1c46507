#!/usr/bin/perl
# Scores many messages in one Perl process through the Mail::SpamAssassin API, with exactly the
# settings of `spamassassin -L -t -x --cf='use_bayes 0' --cf='bayes_auto_learn 0'`: local tests
# only, no preferences file written, no Bayes, test mode (no auto-welcomelist, no learning).
# The rules are read and compiled once, not once per message (a second or more each).
#
# stdin: for each message, its length in bytes on a line, then the message.
# stdout: for each message, in the same order, the length of the answer on a line, then what
# `spamassassin -t` prints for it: the message with its X-Spam headers, then the report.
# (newsletter/preflight/tools.py runs this; it is part of the ipo-newsletter package.)
use strict;
use warnings;
use Mail::SpamAssassin;

binmode STDIN;
binmode STDOUT;
$| = 1;

my $spamtest = Mail::SpamAssassin->new(
  {
    local_tests_only => 1,
    dont_copy_prefs  => 1,
    pre_config_text  => "\n",
    post_config_text => "use_bayes 0\nbayes_auto_learn 0\n",
    require_rules    => 1,
  }
);
# What `spamassassin -t` does: test mode never learns.
$spamtest->{'conf'}->{'use_auto_welcomelist'} = 0;
$spamtest->{'conf'}->{'bayes_auto_learn'} = 0;

while (defined(my $line = <STDIN>)) {
  chomp $line;
  next if $line eq '';
  die "spamscore: expected a length, got '$line'\n" unless $line =~ /^(\d+)$/;
  my $length = $1;
  my $raw = '';
  while (length($raw) < $length) {
    my $read = read(STDIN, $raw, $length - length($raw), length($raw));
    die "spamscore: message cut short\n" unless $read;
  }
  $spamtest->timer_reset;
  my $mail = $spamtest->parse($raw);
  my $status = $spamtest->check($mail);
  my $answer = $status->rewrite_mail() . $status->get_report();
  $status->finish();
  $mail->finish();
  # bytes as `spamassassin` prints them (no output layer): UTF-8 only with wide characters
  if ($answer =~ /[^\x00-\xff]/) { utf8::encode($answer) } else { utf8::downgrade($answer) }
  print length($answer), "\n", $answer;
}
$spamtest->finish();
