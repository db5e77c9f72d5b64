-- One slice of rec_codes's rows. The recommender emits rows by user code, then rank, and user
-- codes follow the pseudonyms' order, so slices appended in turn keep the table in
-- (user_pid, rank) order without sorting all of it at once: the whole sort held the 20M rows of
-- an L day in memory beside the recommender's arrays.
insert into feat_recommendations
select * exclude (user_code) from rec_named
order by user_code, rank;
